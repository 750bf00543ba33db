"""`GET /metrics`: the API's own counters in Prometheus' text format, for a scrape job.

Today these are the helpdesk integration counters (api/integrations/metrics.py: events received,
ignored, refused; requests rejected); the worker serves the SLA, notification and write-back
metrics on its own endpoint (TICKETCLOCK_METRICS_PORT). Counts are per API process, from zero at
its start, as Prometheus expects.

Who may scrape (docs/metrics.md): a caller on the loopback interface without a token (a sidecar,
`curl` on the host); any other caller a bearer token with `tickets:read` (Prometheus'
`authorization: {credentials: ...}` in its scrape config). Behind a reverse proxy on the same host,
uvicorn takes the client from `X-Forwarded-For` (it trusts 127.0.0.1's), so proxied callers are
not loopback.
"""

from __future__ import annotations

import ipaddress
import logging

from fastapi import APIRouter, Request, Response

from api.auth import find_token
from api.errors import ApiError
from api.integrations import metrics as integration_metrics

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

READ_SCOPE = "tickets:read"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authorize(request: Request) -> None:
    if _loopback(request.client.host if request.client else None):
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(
            401,
            "Unauthorized",
            "metrics need a bearer token with tickets:read from this address",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = find_token(presented.strip(), request.app.state.settings.api_tokens)
    if token is None:
        log.info("metrics: rejected an unknown bearer token")
        raise ApiError(401, "Unauthorized", "invalid bearer token")
    if READ_SCOPE not in token.scopes:
        raise ApiError(403, "Forbidden", f"this token lacks the {READ_SCOPE!r} scope")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    _authorize(request)
    return Response(integration_metrics.render(), media_type=CONTENT_TYPE)
