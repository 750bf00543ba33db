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

import logging

from fastapi import APIRouter, Request, Response

from api.auth import check_bearer_scope, is_loopback
from api.integrations import metrics as integration_metrics

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

READ_SCOPE = "tickets:read"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _authorize(request: Request) -> None:
    if is_loopback(request.client.host if request.client else None):
        return
    check_bearer_scope(
        request,
        READ_SCOPE,
        missing="metrics need a bearer token with tickets:read from this address",
        logger=log,
        who="metrics",
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    _authorize(request)
    return Response(integration_metrics.render(), media_type=CONTENT_TYPE)
