"""The pure SLA domain: business calendars, business time, the policy model and its catalogue.

Nothing here imports Temporal or FastAPI, and nothing does I/O beyond reading the catalogue files,
so it runs inside the workflow sandbox (passed through) and tests in microseconds.
"""
