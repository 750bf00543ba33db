"""Process entry points: the `ticketclock` CLI, the worker, the dev stack supervisor, settings."""
