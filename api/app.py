"""The FastAPI application: `create_app` for tests and embedding, `app_factory` for uvicorn.

    uvicorn api.app:app_factory --factory

The Temporal client is created on the first request that needs it and then reused; if Temporal is
down the request answers 503 and the next one tries again. `/healthz` needs neither Temporal nor
a token; `/readyz` answers 503 until Temporal answers a cheap call.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api import board, codec, integrations, metrics, policies, reports, tickets
from api.deps import Gateway
from api.errors import install_error_handlers
from api.guard import MAX_BODY_BYTES, RequestGuard, install_access_log_filter, rate_limiter
from api.schemas import ErrorBody
from api.temporal_gateway import ClientFactory, TemporalGateway, TicketGateway
from plumbing.settings import Settings, load_settings
from plumbing.telemetry import instrument_api
from policies.catalog import Catalog, load_catalog

log = logging.getLogger(__name__)

__all__ = ["MAX_BODY_BYTES", "app_factory", "create_app"]

DESCRIPTION = """\
Durable, business-hours-aware SLA timers for support tickets, on Temporal.

Every `/v1` call needs `Authorization: Bearer <token>` with the scope the route names
(`tickets:create`, `tickets:act`, `tickets:read`). Errors are JSON
`{"error": {"type", "message", "field"}}`. See docs/api.md.
"""


def create_app(
    settings: Settings | None = None,
    client_factory: ClientFactory | None = None,
    *,
    gateway: TicketGateway | None = None,
    catalog: Catalog | None = None,
) -> FastAPI:
    """The API. `gateway` replaces Temporal entirely (handler tests); `client_factory` only how
    the client is made (default: `plumbing.temporal_client.connect(settings)`)."""
    settings = settings or load_settings()
    if gateway is None:
        if client_factory is None:
            client_factory = _default_client_factory(settings)
        gateway = TemporalGateway(client_factory, task_queue=settings.task_queue)
    if not settings.api_tokens:
        log.warning("no API tokens configured: every /v1 request will answer 401")

    app = FastAPI(
        title="ticketclock",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # /docs is api/board.py's: Swagger UI from this machine, not a CDN
        redoc_url=None,
        openapi_tags=[
            {"name": "tickets", "description": "Open, act on, read and list tickets."},
            {"name": "policies", "description": "The policy catalogue and deadline previews."},
            {"name": "health", "description": "Liveness and readiness probes (no token)."},
        ],
    )
    app.state.settings = settings
    app.state.gateway = gateway
    app.state.catalog = catalog or load_catalog(settings.policy_dirs)
    install_error_handlers(app)
    app.include_router(tickets.router)
    app.include_router(policies.router)
    app.include_router(reports.router)
    app.include_router(integrations.build_router(settings, app.state.catalog))
    app.include_router(codec.router)  # /codec: the Temporal UI's codec server
    app.include_router(metrics.router)  # /metrics: Prometheus text (loopback or tickets:read)
    app.include_router(board.router)  # /board, /signin, /signout, /docs (browser pages)
    board.mount_assets(app)
    instrument_api(app)
    # Last added, so outermost of ours: 413, then 401/403, then 429, before any route reads
    # the request (api/guard.py).
    app.add_middleware(RequestGuard, max_body_bytes=MAX_BODY_BYTES, limiter=rate_limiter(settings))
    install_access_log_filter()

    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Temporal answers",
        responses={503: {"model": ErrorBody, "description": "Temporal is unreachable."}},
    )
    async def readyz(gateway: Gateway) -> dict[str, str]:
        await gateway.ready()
        return {"status": "ready"}

    return app


def _default_client_factory(settings: Settings) -> ClientFactory:
    from plumbing.temporal_client import connect

    return lambda: connect(settings)


def app_factory() -> FastAPI:
    """For `uvicorn api.app:app_factory --factory`: settings from the environment."""
    return create_app(load_settings())
