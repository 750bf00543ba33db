"""`POST /v1/policies/whatif`: a candidate policy replayed over the tickets of a period.

Where the actions come from: each ticket's workflow history, across every run of its
continue-as-new chain (history is complete; the ledger the state carries is trimmed to its last
200 rows, and no separate action log is kept, so tickets opened before this feature replay too).
From the history, per ticket:

- the first run's input: the snapshot it resolved (policy version), customer, opening instant;
- every agent action: each Update accepted and completed successfully (a refused one changed
  nothing), each Signal (a refused one is refused again by the same rules), with its payload;
- the instant each was decided: an Update's own ledger row in its result (exact), a Signal's row
  in a later state snapshot, else the start of the workflow task that ran it (what
  `workflow.now()` is);
- every clock cycle the ticket recorded, at its latest known state: the union of the state
  snapshots history carries (Update results, continue-as-new inputs, the result; a running
  ticket's `status` query last). These are the *actual* outcomes, read, not recomputed.

The replay and the comparison are pure: `workflows/whatif.py`. Nothing running is touched: only
visibility, history and queries are read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from api.auth import CanRead
from api.bounds import Instant
from api.deps import CatalogDep
from api.errors import ApiError
from api.schemas import ErrorBody
from api.temporal_gateway import TemporalUnavailable
from api.visibility import WORKFLOW_TYPE, literal
from policies.catalog import parse_candidate
from policies.errors import PolicyError
from workflows.actions import BY_NAME
from workflows.contract import SA_POLICY, InvalidTicketKey, ticket_key_from_workflow_id
from workflows.messages import ClockCycle, LedgerEvent, TicketInput, TicketView
from workflows.ticket import TicketWorkflow
from workflows.whatif import (
    RecordedAction,
    TicketOutcome,
    TicketRecord,
    compare,
    replay,
    resolve_candidate,
)

log = logging.getLogger(__name__)

# Mounted under /v1/policies by api/policies.py.
router = APIRouter(tags=["policies"])

MAX_SPAN = timedelta(days=366)
MAX_TICKETS = 5000
CONCURRENCY = 8
RPC_TIMEOUT = timedelta(seconds=20)
# A ticket may be opened this far ahead of the server's clock (TICKETCLOCK_MAX_CLOCK_SKEW's
# default): its first run cannot have started much before its opening instant.
START_SLACK = timedelta(minutes=5)

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid bearer token."},
    403: {"model": ErrorBody, "description": "The token lacks tickets:read."},
    422: {"model": ErrorBody, "description": "Bad candidate (the field is named) or range."},
    503: {"model": ErrorBody, "description": "Temporal is unreachable."},
}


class WhatIfRequest(BaseModel):
    """The body of `POST /v1/policies/whatif`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    candidate: dict[str, Any] | str = Field(
        description="The candidate policy in the catalogue's format: a JSON object, or TOML text."
    )
    from_: Instant = Field(alias="from", description="Tickets opened at or after this instant.")
    to: Instant | None = Field(
        None, description="... and before this one; clocks are judged as of min(to, now)."
    )
    policy: str | None = Field(
        None, description="The policy id the tickets ran under (default: the candidate's id)."
    )


# -- reading one ticket's history -----------------------------------------------------------------
@dataclass
class _Run:
    run_id: str
    events: list[HistoryEvent]


async def _runs(client: Client, workflow_id: str) -> list[_Run]:
    """Every run of the ticket's workflow, first to latest (walking continue-as-new back)."""
    runs: list[_Run] = []
    run_id: str | None = None
    for _ in range(10_000):
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await handle.fetch_history(rpc_timeout=RPC_TIMEOUT)
        events = list(history.events)
        started = events[0].workflow_execution_started_event_attributes
        runs.append(_Run(history.run_id, events))
        previous = started.continued_execution_run_id
        if not previous:
            break
        run_id = previous
    runs.reverse()
    return runs


def _when(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


async def read_ticket(client: Client, workflow_id: str) -> TicketRecord:
    conv = client.data_converter
    runs = await _runs(client, workflow_id)
    key = ticket_key_from_workflow_id(workflow_id)
    first_started = runs[0].events[0]
    [start] = await conv.decode(
        first_started.workflow_execution_started_event_attributes.input.payloads, [TicketInput]
    )
    assert isinstance(start, TicketInput)
    snapshots: list[list[ClockCycle]] = []
    ledgers: list[list[LedgerEvent]] = []
    # (action, exact instant known); None: an Update not (yet) completed successfully.
    actions: list[tuple[RecordedAction | None, bool]] = []
    migrated = False
    running = False
    for run in runs:
        accepted: dict[str, tuple[int, RecordedAction | None]] = {}
        last_task_started: datetime | None = None
        pending_signals: list[int] = []
        for event in run.events:
            et = event.event_type
            if et == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                last_task_started = _when(event)
                for i in pending_signals:
                    act, _ = actions[i]
                    if act is not None:
                        actions[i] = (_at(act, last_task_started), False)
                pending_signals = []
            elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
                attrs = event.workflow_execution_signaled_event_attributes
                route = BY_NAME.get(attrs.signal_name)
                if route is None or not attrs.input.payloads:
                    continue
                try:
                    [payload] = await conv.decode(attrs.input.payloads, [route.model])
                except Exception:  # noqa: BLE001, S112 - malformed: the workflow refused it too
                    continue
                actions.append(
                    (RecordedAction(_when(event), attrs.signal_name, payload, "signal"), False)
                )
                pending_signals.append(len(actions) - 1)
            elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                attrs_u = event.workflow_execution_update_accepted_event_attributes
                name = attrs_u.accepted_request.input.name
                update_id = attrs_u.accepted_request.meta.update_id
                if name == "migrate":
                    migrated = True
                route = BY_NAME.get(name)
                recorded: RecordedAction | None = None
                if route is not None and attrs_u.accepted_request.input.args.payloads:
                    [payload] = await conv.decode(
                        attrs_u.accepted_request.input.args.payloads, [route.model]
                    )
                    recorded = RecordedAction(last_task_started or _when(event), name, payload)
                accepted[update_id] = (len(actions), recorded)
                actions.append((None, False))  # counted once it completes successfully
            elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
                attrs_c = event.workflow_execution_update_completed_event_attributes
                index, recorded = accepted.get(attrs_c.meta.update_id, (-1, None))
                if index < 0:
                    continue
                if not attrs_c.outcome.HasField("success") or recorded is None:
                    continue
                [view] = await conv.decode(attrs_c.outcome.success.payloads, [TicketView])
                assert isinstance(view, TicketView)
                snapshots.append(view.clocks)
                ledgers.append(view.events)
                row = _own_row(view.events, recorded)
                actions[index] = (_at(recorded, row.at), True) if row else (recorded, False)
            elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                attrs_n = event.workflow_execution_continued_as_new_event_attributes
                [nxt] = await conv.decode(attrs_n.input.payloads, [TicketInput])
                if isinstance(nxt, TicketInput) and nxt.state is not None:
                    snapshots.append(nxt.state.cycles)
                    ledgers.append(nxt.state.events)
            elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
                attrs_d = event.workflow_execution_completed_event_attributes
                [done] = await conv.decode(attrs_d.result.payloads, [TicketView])
                if isinstance(done, TicketView):
                    snapshots.append(done.clocks)
                    ledgers.append(done.events)
    last = runs[-1]
    description = await client.get_workflow_handle(workflow_id, run_id=last.run_id).describe(
        rpc_timeout=RPC_TIMEOUT
    )
    if description.status == WorkflowExecutionStatus.RUNNING:
        running = True
        handle = client.get_workflow_handle_for(TicketWorkflow.run, workflow_id, run_id=last.run_id)
        view = await handle.query(TicketWorkflow.status, rpc_timeout=RPC_TIMEOUT)
        snapshots.append(view.clocks)
        ledgers.append(view.events)
    kept = [(a, exact) for a, exact in actions if a is not None]
    _signal_instants(kept, ledgers)
    cycles: dict[tuple[str, int], ClockCycle] = {}
    for snapshot in snapshots:
        for c in snapshot:
            cycles[(c.clock.value, c.cycle)] = c
    return TicketRecord(
        key=key,
        start=start,
        started_at=_when(first_started),
        actions=sorted((a for a, _ in kept), key=lambda a: a.at),
        cycles=sorted(cycles.values(), key=lambda c: (c.started_at, c.clock.value, c.cycle)),
        running=running,
        migrated=migrated,
    )


def _at(action: RecordedAction, at: datetime) -> RecordedAction:
    return RecordedAction(at, action.name, action.payload, action.via)


def _own_row(events: list[LedgerEvent], action: RecordedAction) -> LedgerEvent | None:
    """The ledger row `decide` wrote for this accepted action (the last of its name)."""
    for row in reversed(events):
        if row.action == action.name and row.via == action.via and row.accepted:
            return row
    return None


def _signal_instants(
    actions: list[tuple[RecordedAction, bool]], ledgers: list[list[LedgerEvent]]
) -> None:
    """A Signal's exact instant from its ledger row (accepted or refused), matched in order."""
    rows: dict[str, list[datetime]] = {}
    seen: set[tuple[datetime, str]] = set()
    for ledger in ledgers:
        for row in ledger:
            if row.via == "signal" and (row.at, row.action) not in seen:
                seen.add((row.at, row.action))
                rows.setdefault(row.action, []).append(row.at)
    for name in rows:
        rows[name].sort()
    for i, (act, exact) in enumerate(actions):
        if act.via != "signal" or exact:
            continue
        candidates = rows.get(act.name, [])
        found = next((at for at in candidates if at >= act.at), None)
        if found is not None:
            candidates.remove(found)
            actions[i] = (_at(act, found), True)


# -- the route ------------------------------------------------------------------------------------
def _client(request: Request) -> Callable[[], Awaitable[Client]]:
    client = getattr(request.app.state.gateway, "client", None)
    if client is None:
        raise ApiError(501, "WhatIfUnavailable", "what-if needs the Temporal gateway")
    factory: Callable[[], Awaitable[Client]] = client
    return factory


@router.post(
    "/whatif",
    summary="Replay the tickets of a period under a candidate policy (nothing is changed)",
    responses=_ERRORS,
)
async def whatif(
    body: WhatIfRequest, request: Request, _: CanRead, catalog: CatalogDep
) -> dict[str, Any]:
    """Every ticket opened in [from, to) under `policy` (running and ended), its recorded actions
    replayed through the rules core with the candidate's targets, every clock judged as of
    min(to, now): met and breached counts and first-response times, actual vs candidate, per
    rank, tier and severity, and each clock whose outcome changes."""
    try:
        candidate = parse_candidate(body.candidate, "candidate")
    except PolicyError as exc:
        raise ApiError(422, "PolicyError", str(exc), field=exc.field) from None
    policy_id = body.policy or candidate.id
    if policy_id not in catalog.ids():
        raise ApiError(422, "PolicyError", f"policy: unknown policy {policy_id!r}", field="policy")
    now = datetime.now(UTC)
    to = body.to or now
    if body.from_ >= to:
        raise ApiError(422, "ValidationError", "from: must be before to", field="from")
    if to - body.from_ > MAX_SPAN:
        raise ApiError(
            422, "ValidationError", f"from: the range may span {MAX_SPAN.days} days", field="from"
        )
    as_of = min(to, now)
    query = " AND ".join(
        [
            f"WorkflowType = {literal(WORKFLOW_TYPE)}",
            f"{SA_POLICY.name} = {literal(policy_id)}",
            f"StartTime >= {literal(body.from_ - START_SLACK)}",
        ]
    )
    client = await _client(request)()
    ids: list[str] = []
    try:
        async for execution in client.list_workflows(query, page_size=1000):
            if execution.id not in ids:
                ids.append(execution.id)
            if len(ids) > MAX_TICKETS:
                raise ApiError(
                    422,
                    "ValidationError",
                    f"from: more than {MAX_TICKETS} tickets in range; narrow from/to",
                    field="from",
                )
    except RPCError as exc:
        raise TemporalUnavailable(f"{exc.status.name if exc.status else 'RPC'}: {exc}") from exc
    gate = asyncio.Semaphore(CONCURRENCY)
    skipped: list[dict[str, str]] = []

    async def one(workflow_id: str) -> TicketOutcome | None:
        async with gate:
            try:
                key = ticket_key_from_workflow_id(workflow_id)
            except InvalidTicketKey:
                return None
            try:
                record = await read_ticket(client, workflow_id)
            except Exception as exc:  # noqa: BLE001 - reported per ticket, the rest go on
                log.warning("whatif: cannot read ticket %s: %s", key, exc)
                skipped.append({"key": key, "reason": f"{type(exc).__name__}: {str(exc)[:200]}"})
                return None
        if not (body.from_ <= record.start.opened_at < to):
            return None
        actual_sla = record.start.sla
        try:
            sla = resolve_candidate(candidate, record.start)
            cycles = await asyncio.to_thread(
                replay, record.start, record.started_at, record.actions, sla, as_of
            )
        except (PolicyError, KeyError, ValueError) as exc:
            return TicketOutcome(key, actual_sla, record.cycles, None, [], error=str(exc))
        return TicketOutcome(key, actual_sla, record.cycles, sla, cycles)

    results = await asyncio.gather(*(one(i) for i in ids))
    report = compare((r for r in results if r is not None), as_of)
    report["skipped"] = sorted(report["skipped"] + skipped, key=lambda s: s["key"])
    return {
        "policy": policy_id,
        "candidate_version": candidate.version,
        "from": body.from_.astimezone(UTC).isoformat(),
        "to": to.astimezone(UTC).isoformat(),
        **report,
    }
