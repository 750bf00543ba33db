"""What breaches next: `GET /v1/tickets?sort=next_deadline`, the board, `ticketclock tickets due`.

Visibility cannot order by a custom search attribute on every store (the dev server's SQLite
cannot), so the list is filtered by `SlaNextDeadline` (and the other filters), read up to
`WINDOW` matches, sorted in memory, and the first `limit` are each asked what is due: the clock,
its deadline in the calendar's zone, the warnings sent, and the business time left.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from api.schemas import DueInfo, TicketFilters, TicketPage, TicketSummary
from api.temporal_gateway import GatewayError, TicketGateway
from policies.calendar import BusinessCalendar, cached_calendar
from policies.catalog import Catalog
from policies.errors import PolicyError
from policies.resolve import calendar_spec
from workflows.messages import ClockCycle, CycleStatus, TicketView

WINDOW = 1000  # matches sorted in memory; more: `truncated`, narrow the filters
PAGE = 200
CONCURRENCY = 8


def rank_pairs(catalog: Catalog, rank: int, policy: str | None) -> dict[str, tuple[str, ...]]:
    """Policy id -> its severity ids of `rank` (within one policy when `policy` is given)."""
    ids = [policy] if policy else catalog.ids()
    return {p: catalog.get(p).severities_of_rank(rank) for p in ids}


def rank_of(catalog: Catalog, policy: str | None, severity: str | None) -> tuple[int | None, str]:
    """(rank, the policy's label) of a ticket's severity; (None, id) for an unknown one."""
    if not policy or not severity:
        return None, severity or ""
    try:
        p = catalog.get(policy)
        index = p.rank(severity)
    except (PolicyError, ValueError):
        return None, severity
    return p.severity_rank(severity), p.severities[index].label


def labelled(catalog: Catalog, row: TicketSummary) -> TicketSummary:
    rank, label = rank_of(catalog, row.policy, row.severity)
    return row.model_copy(update={"rank": rank, "severity_label": label or None})


async def due_page(
    gateway: TicketGateway, catalog: Catalog, filters: TicketFilters, query: str, now: datetime
) -> TicketPage:
    rows: list[TicketSummary] = []
    token: bytes | None = None
    while len(rows) <= WINDOW:
        page = await gateway.list_tickets(query, page_size=PAGE, page_token=token)
        rows += page.items
        token = page.next_page_token
        if not token:
            break
    truncated = len(rows) > WINDOW or token is not None
    rows = [r for r in rows if r.next_deadline is not None]
    rows.sort(key=lambda r: (r.next_deadline or now, r.key))
    chosen = [labelled(catalog, r) for r in rows[: filters.limit]]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def enrich(row: TicketSummary) -> TicketSummary:
        async with gate:
            try:
                view = await gateway.status(row.key)
            except GatewayError:
                return row  # gone or unreadable since it was listed: the row as visibility says
        return row.model_copy(update={"due": due_info(view, catalog, now)})

    items = await asyncio.gather(*(enrich(r) for r in chosen))
    return TicketPage(items=list(items), next_cursor=None, truncated=truncated)


def next_cycle(view: TicketView) -> ClockCycle | None:
    """The running or paused cycle of the ticket's next deadline."""
    for cycle in reversed(view.clocks):
        if cycle.clock.value == view.next_deadline_clock and cycle.status in (
            CycleStatus.running,
            CycleStatus.paused,
        ):
            return cycle
    return None


def due_info(view: TicketView, catalog: Catalog, now: datetime) -> DueInfo | None:
    cycle = next_cycle(view)
    if cycle is None or cycle.due_at is None:
        return None
    due_at = cycle.due_at.astimezone(UTC)
    sent = [w for w in cycle.warnings if w.sent_at is not None]
    pending = [w for w in cycle.warnings if w.sent_at is None and not w.skipped]
    business_left: float | None = None
    if cycle.business:
        calendar = ticket_calendar(catalog, view)
        if calendar is not None:
            business_left = calendar.elapsed(now, due_at).total_seconds()
    return DueInfo(
        clock=cycle.clock.value,
        due_at=due_at,
        due_local=cycle.due_local,
        due_text=cycle.due_text,
        timezone=view.timezone,
        target=cycle.target_text,
        business=cycle.business,
        wall_seconds_left=(due_at - now).total_seconds(),
        business_seconds_left=business_left,
        warned=bool(sent),
        warning=sent[-1].label if sent else None,
        next_warning_at=min((w.at for w in pending), default=None),
        paused=cycle.status == CycleStatus.paused,
    )


def ticket_calendar(catalog: Catalog, view: TicketView) -> BusinessCalendar | None:
    """The ticket's calendar as the catalogue has it now, in the ticket's zone."""
    try:
        definition = catalog.get(view.policy).calendars.get(view.calendar)
    except PolicyError:
        return None
    if definition is None:
        return None
    spec: dict[str, Any] = calendar_spec(definition, view.timezone)
    key = f"due:{view.policy}:{view.calendar}:{view.timezone}:{definition.model_dump_json()}"
    try:
        return cached_calendar(key, lambda: BusinessCalendar.from_spec(spec))
    except ValueError:
        return None
