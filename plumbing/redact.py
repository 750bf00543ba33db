"""Credentials in URLs: one rule for the access log (api/guard.py) and trace spans (telemetry).

A client that puts its token in the query string (`?access_token=...`) is refused, but the URL it
sent would still be written wherever requests are recorded. Both places redact with this.
"""

from __future__ import annotations

import re

# Query parameters whose value is a credential, whatever the route does with them.
_SECRET_PARAM = re.compile(
    r"(?i)(?<=[?&;])((?:[a-z0-9_.-]*[_.-])?(?:access_token|token|api_?key|apikey|key_?secret|"
    r"secret|password|passwd|auth|authorization|signature|sig)=)[^&;#\s\"]*"
)
REDACTED = "[redacted]"


def redact_query(text: str) -> str:
    """`/v1/x?access_token=abc&limit=5` -> `/v1/x?access_token=[redacted]&limit=5`."""
    return _SECRET_PARAM.sub(lambda m: m[1] + REDACTED, text)
