"""The HTTP API: FastAPI handlers in front of the Temporal client (see docs/api.md)."""
