"""`/v1/tickets`: open a ticket, act on it (one Update per action), read it, list tickets.

No `from __future__ import annotations` here: the action routes are built in a loop and FastAPI
reads each one's body model from its (evaluated) annotation.
"""

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response

from api import migration
from api.auth import CanAct, CanCreate, CanRead
from api.bounds import check_action_body, check_opened_at
from api.cursor import decode_cursor, encode_cursor
from api.deps import CatalogDep, Gateway, TicketKey
from api.due import due_page, labelled, rank_pairs
from api.errors import ApiError
from api.schemas import CreateTicket, ErrorBody, TicketFilters, TicketPage
from api.temporal_gateway import TicketExists
from api.visibility import list_query
from plumbing.settings import Settings
from policies.catalog import Catalog
from policies.snapshot import Clock, ResolvedSla
from workflows.actions import ACTIONS, ActionRoute
from workflows.messages import Explanation, TicketInput, TicketView

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks the scope."},
    413: {"model": ErrorBody, "description": "The body is over 1 MiB (checked before auth)."},
    429: {"model": ErrorBody, "description": "Over the token's rate limit; see Retry-After."},
    503: {"model": ErrorBody, "description": "Temporal is unreachable."},
}
_BAD_INPUT: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "Bad input; `field` names it."}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No ticket with this key."}
}


def _summary(sla: ResolvedSla, subject: str | None) -> str:
    return f"{sla.policy_id} {sla.tier} {sla.terms().label}: {subject or '(no subject)'}"


def ticket_input(body: CreateTicket, catalog: Catalog, opened_at: datetime) -> TicketInput:
    """The workflow's input for `body`: its policy resolved as in effect at `opened_at`."""
    sla = catalog.resolve(
        body.policy,
        body.tier,
        body.severity,
        body.customer,
        channel=body.channel,
        product=body.product,
        opened_at=opened_at,
        ticket_type=body.type,
    )
    return TicketInput(
        key=body.key,
        sla=sla,
        customer=body.customer,
        opened_at=opened_at,
        subject=body.subject,
        channel=body.channel,
        product=body.product,
        type=body.type,
        intake=body.intake,
    )


def _details(ticket: TicketInput) -> str:
    sla = ticket.sla
    lines = [
        f"**Ticket** {ticket.key}",
        f"**Policy** {sla.policy_name} ({sla.policy_id}, version {sla.policy_version})",
        f"**Tier** {sla.tier_label}; **severity** {sla.terms().label}"
        + (f" (requested {sla.requested_severity}: {sla.cap_reason})" if sla.cap_reason else ""),
        f"**Calendar** {sla.calendar.name} ({sla.calendar.timezone})",
        f"**Opened** {ticket.opened_at.isoformat()}",
    ]
    if ticket.channel:
        lines.append(f"**Channel** {ticket.channel}")
    if ticket.product:
        lines.append(f"**Product** {ticket.product}")
    return "  \n".join(lines)


@router.post(
    "",
    status_code=201,
    summary="Open a ticket and start its SLA clocks",
    responses={
        200: {"model": TicketView, "description": "Same key and same body again: the ticket."},
        409: {"model": ErrorBody, "description": "The key exists with a different body."},
        **_BAD_INPUT,
        **_AUTH_ERRORS,
    },
)
async def create_ticket(
    body: CreateTicket,
    request: Request,
    response: Response,
    _: CanCreate,
    gateway: Gateway,
    catalog: CatalogDep,
) -> TicketView:
    """Resolves the policy (422 naming the field if it cannot), then starts the ticket's workflow.

    Idempotent on `key`: repeating the same body answers 200 with the ticket as it is now; a
    different body for an existing key answers 409.
    """
    settings: Settings = request.app.state.settings
    now = datetime.now(UTC)
    opened_at = body.opened_at or now
    check_opened_at(  # 422 naming opened_at outside the window the settings name
        opened_at, now=now, max_age=settings.max_ticket_age, max_skew=settings.max_clock_skew
    )
    ticket = ticket_input(body, catalog, opened_at)
    sla = ticket.sla
    fingerprint = body.fingerprint()
    try:
        return await gateway.start_ticket(
            ticket,
            fingerprint=fingerprint,
            summary=_summary(sla, body.subject),
            details=_details(ticket),
        )
    except TicketExists:
        if await gateway.fingerprint(body.key) != fingerprint:
            raise
    response.status_code = 200
    return await gateway.status(body.key)


@router.get(
    "",
    summary="List tickets (from Temporal visibility)",
    responses={**_BAD_INPUT, **_AUTH_ERRORS},
)
async def list_tickets(
    filters: Annotated[TicketFilters, Query()], _: CanRead, gateway: Gateway, catalog: CatalogDep
) -> TicketPage:
    """Filters combine with AND; visibility is eventually consistent (a second or so behind).
    `sort=next_deadline`: what is due next, soonest first, each ticket's `due` read from it."""
    if filters.policy is not None:
        catalog.get(filters.policy)  # PolicyError -> 422 naming `policy`
    pairs = None if filters.rank is None else rank_pairs(catalog, filters.rank, filters.policy)
    if pairs is not None and not any(pairs.values()):
        return TicketPage(items=[], next_cursor=None)  # no severity of that rank here
    query = list_query(filters, pairs)
    if filters.sort == "next_deadline":
        if filters.cursor is not None:
            raise ApiError(
                422, "ValidationError", "cursor: not with sort=next_deadline", field="cursor"
            )
        return await due_page(gateway, catalog, filters, query, datetime.now(UTC))
    token = decode_cursor(filters.cursor, query)  # refused here, before Temporal sees it
    page = await gateway.list_tickets(query, page_size=filters.limit, page_token=token)
    return TicketPage(
        items=[labelled(catalog, row) for row in page.items],
        next_cursor=encode_cursor(page.next_page_token, query),
    )


@router.get(
    "/{key}",
    summary="A ticket: state, every clock's ledger, next deadline",
    responses={**_NOT_FOUND, **_BAD_INPUT, **_AUTH_ERRORS},
)
async def get_ticket(key: TicketKey, _: CanRead, gateway: Gateway) -> TicketView:
    return await gateway.status(key)


@router.get(
    "/{key}/explain/{clock}",
    summary="Why one clock's deadline is what it is",
    responses={**_NOT_FOUND, **_BAD_INPUT, **_AUTH_ERRORS},
)
async def explain_clock(key: TicketKey, clock: Clock, _: CanRead, gateway: Gateway) -> Explanation:
    return await gateway.explain(key, clock)


# -- actions: one route per workflow Update ------------------------------------------------------
def _action_endpoint(
    route: ActionRoute,
) -> Callable[..., Coroutine[Any, Any, TicketView]]:
    model = route.model

    async def act(
        key: TicketKey,
        body: Annotated[model, Body(openapi_examples={"example": {"value": route.example}})],  # type: ignore[valid-type]
        _: CanAct,
        gateway: Gateway,
    ) -> TicketView:
        check_action_body(body)  # instants in range, maps of texts bounded: 422 naming the field
        return await gateway.act(key, route.update, body)

    act.__name__ = route.update
    act.__doc__ = f"Runs the workflow Update `{route.update}`; 409 with its type if refused."
    return act


for _route in ACTIONS:
    router.add_api_route(
        f"/{{key}}/{_route.path}",
        _action_endpoint(_route),
        methods=["POST"],
        summary=_route.summary,
        response_model=TicketView,
        operation_id=f"ticket_{_route.update}",
        responses={
            409: {"model": ErrorBody, "description": "Refused: `type` says why."},
            **_NOT_FOUND,
            **_BAD_INPUT,
            **_AUTH_ERRORS,
        },
    )

# POST /v1/tickets/{key}/migrate (api/migration.py): an operator action with a route of its own.
router.include_router(migration.tickets_router)
