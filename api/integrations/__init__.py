"""Helpdesk integrations: `POST /v1/integrations/zendesk` and `POST /v1/integrations/jira`.

`build_router(settings, catalog)` loads and validates the mapping files when the API starts (a bad
file stops it, naming the file and the field). Each route authenticates by its helpdesk's
signature (not a bearer token), turns the event into a plan (`zendesk.plan` / `jira.plan`) and
carries it out through the gateway (`apply.carry_out`). Answers:

- 404: the route's secret is unset (the integration is off);
- 401: signature missing or wrong, or (Zendesk) a timestamp outside the 5-minute replay window;
- 422: not the documented shape (the field is named);
- 200 `{"ticket", "applied", "status"}` once the ticket reflects the event, or
  `{"ticket", "ignored": "<why>"}` when it maps to nothing or the ticket refuses it (helpdesks
  retry any other answer, and a refusal would only be refused again);
- 503: Temporal is unreachable (the helpdesk retries later).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError

from api.errors import ApiError, field_path
from api.integrations import jira, metrics, signatures, zendesk
from api.integrations.apply import ShapeError, carry_out
from api.integrations.mapping import HelpdeskMapping, MappingError, load_mapping
from api.schemas import ErrorBody
from api.temporal_gateway import TicketGateway
from plumbing.settings import Settings
from policies.catalog import Catalog

__all__ = ["MappingError", "build_router"]

log = logging.getLogger(__name__)

_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Signature missing, wrong or stale."},
    404: {"model": ErrorBody, "description": "This integration is not configured."},
    422: {"model": ErrorBody, "description": "Not the documented payload; `field` names it."},
    503: {"model": ErrorBody, "description": "Temporal is unreachable; the helpdesk retries."},
}


def _mapping(
    helpdesk: str, secret: str | None, path: str | None, variable: str, catalog: Catalog
) -> HelpdeskMapping | None:
    if not secret:
        return None
    if not path:
        raise MappingError(variable, "(unset)", f"required when the {helpdesk} secret is set")
    return load_mapping(path, "zendesk" if helpdesk == "zendesk" else "jira", catalog)


def _not_configured(helpdesk: str, variable: str) -> ApiError:
    return ApiError(404, "NotFound", f"the {helpdesk} integration is off ({variable} is unset)")


def _json(helpdesk: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        metrics.count(metrics.REJECTED, helpdesk, "422")
        raise ApiError(422, "ValidationError", f"body: not JSON ({exc})", field="body") from None


def _shape_error(helpdesk: str, field: str, message: str) -> ApiError:
    metrics.count(metrics.REJECTED, helpdesk, "422")
    text = message if message.startswith(f"{field}:") else f"{field}: {message}"
    return ApiError(422, "ValidationError", text, field=field)


@contextmanager
def _shape_errors(helpdesk: str) -> Iterator[None]:
    """A payload of the wrong shape (pydantic's or the helpdesk module's verdict): 422 naming the
    field."""
    try:
        yield
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _shape_error(helpdesk, field_path(err["loc"]), err["msg"]) from None
    except ShapeError as exc:
        raise _shape_error(helpdesk, exc.field, str(exc)) from None


def _unauthorized(helpdesk: str, exc: signatures.SignatureRefused) -> ApiError:
    metrics.count(metrics.REJECTED, helpdesk, "401")
    log.info("%s webhook refused: %s", helpdesk, exc)
    return ApiError(401, "Unauthorized", str(exc))


def build_router(settings: Settings, catalog: Catalog) -> APIRouter:
    """The integration routes, with their mapping files loaded and checked now."""
    zd_mapping = _mapping(
        "zendesk",
        settings.zendesk_webhook_secret,
        settings.zendesk_mapping,
        "TICKETCLOCK_ZENDESK_MAPPING",
        catalog,
    )
    jira_mapping = _mapping(
        "jira",
        settings.jira_webhook_secret,
        settings.jira_mapping,
        "TICKETCLOCK_JIRA_MAPPING",
        catalog,
    )
    router = APIRouter(prefix="/v1/integrations", tags=["integrations"])

    @router.post(
        "/zendesk",
        summary="Zendesk ticket events (webhook, signed by Zendesk)",
        responses=_ANSWERS,
    )
    async def zendesk_events(request: Request) -> dict[str, Any]:
        """A Zendesk webhook subscribed to `zen:event-type:ticket.*` events; see
        docs/integrations.md. Authenticated by `X-Zendesk-Webhook-Signature`."""
        secret = settings.zendesk_webhook_secret
        if not secret or zd_mapping is None:
            raise _not_configured("zendesk", "TICKETCLOCK_ZENDESK_WEBHOOK_SECRET")
        body = await request.body()
        try:
            signatures.check_zendesk(
                secret,
                request.headers.get(signatures.ZENDESK_SIGNATURE),
                request.headers.get(signatures.ZENDESK_TIMESTAMP),
                body,
            )
        except signatures.SignatureRefused as exc:
            raise _unauthorized("zendesk", exc) from None
        data = _json("zendesk", body)
        with _shape_errors("zendesk"):
            event = zendesk.ZendeskEvent.model_validate(data)
            plan = zendesk.plan(event, zd_mapping)
        metrics.count(metrics.RECEIVED, "zendesk")
        gateway: TicketGateway = request.app.state.gateway
        return await carry_out(plan, zd_mapping, gateway, catalog)

    @router.post(
        "/jira",
        summary="Jira Cloud issue and comment events (admin webhook, signed by Jira)",
        responses=_ANSWERS,
    )
    async def jira_events(request: Request) -> dict[str, Any]:
        """A Jira Cloud admin webhook (`jira:issue_created`, `jira:issue_updated`,
        `comment_created`); see docs/integrations.md. Authenticated by `X-Hub-Signature`."""
        secret = settings.jira_webhook_secret
        if not secret or jira_mapping is None:
            raise _not_configured("jira", "TICKETCLOCK_JIRA_WEBHOOK_SECRET")
        body = await request.body()
        try:
            signatures.check_jira(secret, request.headers.get(signatures.JIRA_SIGNATURE), body)
        except signatures.SignatureRefused as exc:
            raise _unauthorized("jira", exc) from None
        identifier = (request.headers.get(signatures.JIRA_IDENTIFIER) or "").strip()
        if not identifier or len(identifier) > 200:
            raise _shape_error("jira", signatures.JIRA_IDENTIFIER, "required (1-200 characters)")
        data = _json("jira", body)
        with _shape_errors("jira"):
            event = jira.JiraEvent.model_validate(data)
            plan = jira.plan(event, identifier, jira_mapping)
        metrics.count(metrics.RECEIVED, "jira")
        gateway: TicketGateway = request.app.state.gateway
        return await carry_out(plan, jira_mapping, gateway, catalog)

    return router
