"""Helpers the tests share (never imported from another test file; fixtures are in conftest.py).

- `tests.support.api`: the API served by uvicorn in the test's event loop, tokens and settings;
- `tests.support.rigs`: a real worker and webhook receiver on the time-skipping server;
- `tests.support.slas`: resolved SLAs built by hand; `tests.support.oracle`: a minute-walking
  business-time oracle;
- `tests.support.fakes`: an in-memory gateway for the API's handler tests;
- `tests.support.browser`: headless Chromium over the DevTools protocol (`make browser`).
Real receivers (webhook, SMTP) are in harness/receivers.py, shared with the benchmarks and drills.
"""

from __future__ import annotations

import uuid


def unique(prefix: str = "t") -> str:
    """A fresh name (task queue, ticket key): tests never see each other's tickets."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
