"""Deterministic workflow code: no I/O, no business-time arithmetic (that runs in activities)."""
