"""Activities: every piece of I/O and every business-time computation the workflow needs."""
