"""The only module that talks to the Temporal client; handlers see the `TicketGateway` protocol.

`TemporalGateway` connects lazily on first use and keeps the client; a failed connection is
retried on the next request. Temporal's errors become the gateway's own exceptions (not found,
refused, unavailable...), which `api.errors` maps to HTTP answers, so handler tests can use an
in-memory fake that raises the same ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.report import Skipped
from api.schemas import TicketSummary
from policies.snapshot import Clock
from workflows.actions import BY_NAME, ActionName
from workflows.contract import (
    SA_BREACHED,
    SA_BREACHED_CLOCKS,
    SA_NEXT_DEADLINE,
    SA_POLICY,
    SA_SEVERITY,
    SA_STATE,
    SA_TIER,
    InvalidTicketKey,
    ticket_key_from_workflow_id,
    ticket_workflow_id,
)
from workflows.messages import (
    Action,
    ClockCycle,
    Explanation,
    LedgerEvent,
    Migrate,
    TicketInput,
    TicketStatus,
    TicketView,
)
from workflows.ticket import TicketWorkflow
from workflows.updates import execute_action, update_name
from workflows.whatif import RecordedAction, TicketRecord

log = logging.getLogger(__name__)

FINGERPRINT_MEMO = "request_fingerprint"

ClientFactory = Callable[[], Awaitable[Client]]

# The timeouts of the read-many routes (reports, migration, what-if), as they were in each.
REPORT_RPC_TIMEOUT = timedelta(seconds=10)
REPORT_CONCURRENCY = 8
HISTORY_RPC_TIMEOUT = timedelta(seconds=20)  # migration and what-if reads
MIGRATE_TIMEOUT = timedelta(seconds=60)


# -- what the gateway raises --------------------------------------------------------------------
class GatewayError(Exception):
    """Base of the failures a handler may see from a gateway."""


class TicketNotFound(GatewayError):
    def __init__(self, key: str) -> None:
        super().__init__(f"no ticket {key!r}")
        self.key = key


class TicketExists(GatewayError):
    """A start found the workflow ID taken (running or closed)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"ticket {key!r} already exists")
        self.key = key


class ActionRefused(GatewayError):
    """The workflow refused an Update (or a query): `type` is the ApplicationError's type."""

    def __init__(self, type: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.field = field


class TemporalUnavailable(GatewayError):
    """Temporal could not be reached, or did not answer in time."""


class InvalidPageToken(GatewayError):
    """A list cursor that is not one this API handed out."""


class TooManyTickets(GatewayError):
    """A visibility query listed more workflows than the caller's limit."""


class QueryRejected(GatewayError):
    """Visibility refused the query as invalid (syntax...): `message` is the server's words,
    `str()` the status and the error, as `TemporalUnavailable` would carry them."""

    def __init__(self, detail: str, message: str) -> None:
        super().__init__(detail)
        self.message = message


# -- the protocol handlers use ------------------------------------------------------------------
@dataclass(frozen=True)
class TicketRows:
    items: list[TicketSummary]
    next_page_token: bytes | None


class TicketGateway(Protocol):
    async def start_ticket(
        self, ticket: TicketInput, *, fingerprint: str, summary: str, details: str
    ) -> TicketView:
        """Start the ticket's workflow and return its first view; `TicketExists` if taken."""
        ...

    async def fingerprint(self, key: str) -> str | None:
        """The request fingerprint the ticket was started with (None: not started by the API)."""
        ...

    async def status(self, key: str) -> TicketView: ...

    async def explain(self, key: str, clock: Clock) -> Explanation: ...

    async def act(
        self, key: str, action: ActionName, body: Action, *, update_id: str | None = None
    ) -> TicketView:
        """Execute the Update named `action`; `ActionRefused` when the workflow says no.
        `update_id`: Temporal runs one Update per id and run (a repeat gets the first result)."""
        ...

    async def list_tickets(
        self, query: str, *, page_size: int, page_token: bytes | None
    ) -> TicketRows: ...

    async def ready(self) -> None:
        """Return if Temporal answers a cheap call quickly; `TemporalUnavailable` otherwise."""
        ...

    async def report_ledgers(
        self, visibility_query: str, *, limit: int
    ) -> tuple[list[TicketView], list[Skipped]]:
        """Every ticket the query lists (at most `limit`, else `TooManyTickets`), read: the
        ledger of a completed one from its result, else from the `status` query."""
        ...

    async def workflow_ids(self, visibility_query: str, *, limit: int) -> list[str]:
        """The IDs the query lists, first seen first; `TooManyTickets` past `limit`,
        `QueryRejected` if visibility calls the query invalid, `TemporalUnavailable` otherwise."""
        ...

    async def ticket_input(self, key: str) -> TicketInput:
        """The input of the ticket's current run: its resolution inputs (and carried state)."""
        ...

    async def migrate(self, key: str, payload: Migrate, *, update_id: str) -> TicketView:
        """The workflow Update `migrate`; refusals are `ActionRefused`."""
        ...

    async def running_ticket(self, workflow_id: str) -> tuple[TicketView, TicketInput]:
        """A migration plan's read of one ticket: its `status` and its current run's input.
        Temporal's errors are not translated (the plan reports them per ticket)."""
        ...

    async def ticket_record(self, workflow_id: str) -> TicketRecord:
        """What-if's read of one ticket: its history across every run, as a `TicketRecord`."""
        ...


def initial_state(ticket: TicketInput) -> TicketStatus:
    missing = [f for f in ticket.sla.intake_required if not ticket.intake.get(f, "").strip()]
    return TicketStatus.intake_incomplete if missing else TicketStatus.awaiting_first_response


# -- the real one -------------------------------------------------------------------------------
class TemporalGateway:
    """`TicketGateway` over a Temporal client created on first use."""

    def __init__(
        self,
        client_factory: Callable[[], Awaitable[Client]],
        *,
        task_queue: str,
        connect_timeout: float = 5.0,
        ready_timeout: float = 2.0,
        query_timeout: float = 10.0,
        update_timeout: float = 30.0,
        settle_timeout: float = 10.0,
    ) -> None:
        self._factory = client_factory
        self._task_queue = task_queue
        self._client: Client | None = None
        self._lock = asyncio.Lock()
        self._connect_timeout = connect_timeout
        self._ready_timeout = timedelta(seconds=ready_timeout)
        self._query_timeout = timedelta(seconds=query_timeout)
        self._update_timeout = timedelta(seconds=update_timeout)
        self._settle_timeout = timedelta(seconds=settle_timeout)

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(self._factory(), self._connect_timeout)
                except Exception as exc:
                    # Connection errors name the address and settings; never a token.
                    log.warning("cannot connect to Temporal: %s", exc)
                    raise TemporalUnavailable(f"cannot connect to Temporal: {exc}") from exc
            return self._client

    async def _handle(self, key: str) -> WorkflowHandle[Any, Any]:
        return (await self.client()).get_workflow_handle(ticket_workflow_id(key))

    async def start_ticket(
        self, ticket: TicketInput, *, fingerprint: str, summary: str, details: str
    ) -> TicketView:
        client = await self.client()
        sla = ticket.sla
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(SA_POLICY, sla.policy_id),
                SearchAttributePair(SA_TIER, sla.tier),
                SearchAttributePair(SA_SEVERITY, sla.severity),
                SearchAttributePair(SA_STATE, initial_state(ticket).value),
                SearchAttributePair(SA_BREACHED, False),
            ]
        )
        start = WithStartWorkflowOperation(
            TicketWorkflow.run,
            ticket,
            id=ticket_workflow_id(ticket.key),
            task_queue=self._task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            memo={FINGERPRINT_MEMO: fingerprint},
            search_attributes=attributes,
            static_summary=summary,
            static_details=details,
        )
        with _translated(ticket.key):
            try:
                # One request starts the workflow and waits for its `opened` Update, which the
                # first workflow task answers once the first deadlines are computed.
                view: TicketView = await client.execute_update_with_start_workflow(
                    TicketWorkflow.opened,
                    start_workflow_operation=start,
                    rpc_timeout=self._settle_timeout,
                )
                return view
            except WorkflowAlreadyStartedError:
                raise TicketExists(ticket.key) from None
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                # No worker answered in time (all busy or down). The start is durable once
                # accepted, so answer with the ticket as it stands, as a later GET would.
                return await self._unsettled_view(ticket.key)
            finally:
                _retrieve_start_outcome(start)

    async def _unsettled_view(self, key: str) -> TicketView:
        handle = await self._handle(key)
        try:
            result: TicketView = await handle.query(
                TicketWorkflow.status, rpc_timeout=self._query_timeout
            )
            return result
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                # The start itself did not get through before the deadline.
                raise TemporalUnavailable(
                    f"ticket {key} was not started: Temporal did not answer in time; "
                    "repeat the request (it is idempotent on key)"
                ) from None
            raise

    async def fingerprint(self, key: str) -> str | None:
        handle = await self._handle(key)
        with _translated(key):
            description = await handle.describe(rpc_timeout=self._query_timeout)
            value = await description.memo_value(FINGERPRINT_MEMO, None, type_hint=str)
        return value if isinstance(value, str) else None

    async def status(self, key: str) -> TicketView:
        handle = await self._handle(key)
        with _translated(key):
            return await handle.query(TicketWorkflow.status, rpc_timeout=self._query_timeout)

    async def explain(self, key: str, clock: Clock) -> Explanation:
        handle = await self._handle(key)
        with _translated(key):
            return await handle.query(
                TicketWorkflow.explain, clock.value, rpc_timeout=self._query_timeout
            )

    async def act(
        self, key: str, action: ActionName, body: Action, *, update_id: str | None = None
    ) -> TicketView:
        handle = await self._handle(key)
        assert update_name(body) == action, "the route and its body share one table entry"
        with _translated(key):
            return await execute_action(
                handle, body, id=update_id, rpc_timeout=self._update_timeout
            )

    async def list_tickets(
        self, query: str, *, page_size: int, page_token: bytes | None
    ) -> TicketRows:
        client = await self.client()
        pages = client.list_workflows(
            query,
            page_size=page_size,
            next_page_token=page_token,
            rpc_timeout=self._query_timeout,
        )
        try:
            with _translated(None):
                await pages.fetch_next_page()
        except RPCError as exc:
            # The server answers INTERNAL or UNKNOWN (not INVALID_ARGUMENT) for undecodable tokens.
            bad_token = (
                RPCStatusCode.INVALID_ARGUMENT,
                RPCStatusCode.INTERNAL,
                RPCStatusCode.UNKNOWN,
            )
            if exc.status in bad_token and page_token:
                raise InvalidPageToken(str(exc)) from None
            raise
        rows = [row for row in map(_row, pages.current_page or []) if row is not None]
        return TicketRows(rows, pages.next_page_token)

    async def ready(self) -> None:
        client = await self.client()
        with _translated(None):
            await client.workflow_service.get_system_info(
                GetSystemInfoRequest(), retry=False, timeout=self._ready_timeout
            )

    # -- reports ------------------------------------------------------------------------------
    async def report_ledgers(
        self, visibility_query: str, *, limit: int
    ) -> tuple[list[TicketView], list[Skipped]]:
        client = await self.client()
        latest: dict[str, WorkflowExecution] = {}
        try:
            async for execution in client.list_workflows(
                visibility_query, limit=limit + 1, page_size=min(1000, limit + 1)
            ):
                seen = latest.get(execution.id)
                if seen is None or execution.start_time > seen.start_time:
                    latest[execution.id] = execution
                if len(latest) > limit:
                    raise TooManyTickets()
        except RPCError as exc:
            if exc.status in _REPORT_UNAVAILABLE:
                raise TemporalUnavailable(f"{exc.status.name}: {exc.message}") from exc
            raise
        except RPCTimeoutOrCancelledError as exc:
            raise TemporalUnavailable(type(exc).__name__) from exc
        gate = asyncio.Semaphore(REPORT_CONCURRENCY)

        async def read(execution: WorkflowExecution) -> TicketView | Skipped:
            async with gate:
                return await _report_read(client, execution)

        results = await asyncio.gather(*(read(e) for e in latest.values()))
        views = [r for r in results if isinstance(r, TicketView)]
        skipped = [r for r in results if isinstance(r, Skipped)]
        return views, skipped

    # -- migration and what-if ----------------------------------------------------------------
    async def workflow_ids(self, visibility_query: str, *, limit: int) -> list[str]:
        client = await self.client()
        ids: list[str] = []
        try:
            async for execution in client.list_workflows(visibility_query, page_size=1000):
                if execution.id not in ids:
                    ids.append(execution.id)
                if len(ids) > limit:
                    raise TooManyTickets()
        except RPCError as exc:
            detail = f"{exc.status.name if exc.status else 'RPC'}: {exc}"
            if "invalid" in exc.message.lower() or "syntax" in exc.message.lower():
                raise QueryRejected(detail, exc.message) from exc
            raise TemporalUnavailable(detail) from exc
        return ids

    async def ticket_input(self, key: str) -> TicketInput:
        return await _current_input(await self.client(), key)

    async def migrate(self, key: str, payload: Migrate, *, update_id: str) -> TicketView:
        handle = await self._handle(key)
        with _translated(key):
            view: TicketView = await handle.execute_update(
                "migrate",  # by name: the Update is the action table's (workflows.actions.MIGRATE)
                payload,
                id=update_id,
                result_type=TicketView,
                rpc_timeout=MIGRATE_TIMEOUT,
            )
        return view

    async def running_ticket(self, workflow_id: str) -> tuple[TicketView, TicketInput]:
        client = await self.client()
        handle = client.get_workflow_handle_for(TicketWorkflow.run, workflow_id)
        view = await handle.query(TicketWorkflow.status, rpc_timeout=HISTORY_RPC_TIMEOUT)
        inp = await _current_input(client, ticket_key_from_workflow_id(workflow_id))
        return view, inp

    async def ticket_record(self, workflow_id: str) -> TicketRecord:
        return await _read_ticket(await self.client(), workflow_id)


async def _report_read(client: Client, execution: WorkflowExecution) -> TicketView | Skipped:
    try:
        key = ticket_key_from_workflow_id(execution.id)
    except InvalidTicketKey:
        return Skipped(key=execution.id, reason="not a ticket workflow id")
    try:
        status, run_id = execution.status, execution.run_id
        if status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
            # Listed by an earlier run: read the ticket's current run.
            description = await client.get_workflow_handle(execution.id).describe(
                rpc_timeout=REPORT_RPC_TIMEOUT
            )
            status, run_id = description.status, description.run_id
        handle = client.get_workflow_handle_for(TicketWorkflow.run, execution.id, run_id=run_id)
        if status == WorkflowExecutionStatus.COMPLETED:
            return await handle.result(follow_runs=False, rpc_timeout=REPORT_RPC_TIMEOUT)
        # Running; or ended otherwise (terminated...), where a worker replays it to answer.
        view: TicketView = await handle.query(TicketWorkflow.status, rpc_timeout=REPORT_RPC_TIMEOUT)
        return view
    except RPCError as exc:
        if exc.status in _REPORT_UNAVAILABLE:
            raise TemporalUnavailable(f"{exc.status.name}: {exc.message}") from exc
        return Skipped(key=key, reason=f"{exc.status.name if exc.status else 'RPC'}: {exc}")
    except RPCTimeoutOrCancelledError as exc:
        raise TemporalUnavailable(type(exc).__name__) from exc
    except Exception as exc:  # a failed query, a workflow that ended without a result
        log.warning("report: cannot read ticket %s: %s", key, exc)
        return Skipped(key=key, reason=f"{type(exc).__name__}: {str(exc)[:200]}")


async def _current_input(client: Client, key: str) -> TicketInput:
    handle = client.get_workflow_handle(ticket_workflow_id(key))
    with _translated(key):
        async for event in handle.fetch_history_events(
            page_size=1, rpc_timeout=HISTORY_RPC_TIMEOUT
        ):
            payloads = event.workflow_execution_started_event_attributes.input.payloads
            [inp] = await client.data_converter.decode(payloads, [TicketInput])
            assert isinstance(inp, TicketInput)
            return inp
    raise TicketNotFound(key)


# -- what-if: reading one ticket's history -----------------------------------------------------
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
        history = await handle.fetch_history(rpc_timeout=HISTORY_RPC_TIMEOUT)
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


async def _read_ticket(client: Client, workflow_id: str) -> TicketRecord:
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
        rpc_timeout=HISTORY_RPC_TIMEOUT
    )
    if description.status == WorkflowExecutionStatus.RUNNING:
        running = True
        handle = client.get_workflow_handle_for(TicketWorkflow.run, workflow_id, run_id=last.run_id)
        view = await handle.query(TicketWorkflow.status, rpc_timeout=HISTORY_RPC_TIMEOUT)
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


def _retrieve_start_outcome(start: WithStartWorkflowOperation[Any, Any]) -> None:
    """Mark the start operation's own future as seen.

    Update-with-start settles `start.workflow_handle()` too; on a refused start (the key exists:
    `WorkflowAlreadyStartedError`) that future holds the same exception, and nobody awaiting it
    made asyncio log "Future exception was never retrieved" with a traceback on every idempotent
    retry. The exception is the one already raised (and answered) above.
    """
    outcome = getattr(start, "_workflow_handle", None)  # the SDK keeps it private
    if isinstance(outcome, asyncio.Future) and outcome.done() and not outcome.cancelled():
        outcome.exception()


def _row(execution: WorkflowExecution) -> TicketSummary | None:
    try:
        key = ticket_key_from_workflow_id(execution.id)
    except InvalidTicketKey:
        log.warning("skipping workflow %r: not a ticket workflow id", execution.id)
        return None
    attrs = execution.typed_search_attributes
    status = execution.status or WorkflowExecutionStatus.RUNNING
    return TicketSummary(
        key=key,
        policy=attrs.get(SA_POLICY),
        tier=attrs.get(SA_TIER),
        severity=attrs.get(SA_SEVERITY),
        state=attrs.get(SA_STATE),
        breached=bool(attrs.get(SA_BREACHED)),
        next_deadline=attrs.get(SA_NEXT_DEADLINE),
        breached_clocks=list(attrs.get(SA_BREACHED_CLOCKS) or []),
        started_at=execution.start_time,
        status=status.name.lower(),
    )


_REPORT_UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
}
_FIELD_PREFIX = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*): ")
_UNAVAILABLE = {
    RPCStatusCode.UNAVAILABLE,
    RPCStatusCode.DEADLINE_EXCEEDED,
    RPCStatusCode.CANCELLED,
    RPCStatusCode.RESOURCE_EXHAUSTED,
    # WorkflowNotReady: the ticket's workflow task is failing or timed out (a worker just died,
    # or is starved); the Update is not lost, the caller should retry shortly.
    RPCStatusCode.FAILED_PRECONDITION,
}


@contextlib.contextmanager
def _translated(key: str | None) -> Iterator[None]:
    """Temporal's exceptions -> the gateway's (the ones a handler knows how to answer)."""
    try:
        yield
    except WorkflowUpdateFailedError as exc:
        raise _refusal(exc.cause) from exc
    except WorkflowQueryFailedError as exc:
        raise ActionRefused("QueryFailed", str(exc)) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND and key is not None:
            if "already completed" in exc.message:
                raise ActionRefused("TicketClosed", f"ticket {key!r} has ended") from exc
            raise TicketNotFound(key) from exc
        if exc.status in _UNAVAILABLE:
            raise TemporalUnavailable(f"{exc.status.name}: {exc.message}") from exc
        raise
    except (RPCTimeoutOrCancelledError, TimeoutError, ConnectionError) as exc:
        raise TemporalUnavailable(type(exc).__name__) from exc


def _refusal(cause: BaseException) -> ActionRefused:
    message = cause.message if isinstance(cause, ApplicationError) else str(cause)
    kind = (cause.type if isinstance(cause, ApplicationError) else None) or type(cause).__name__
    # Refusals start with the field they are about ("next_update_eta: ..."), as PolicyErrors do.
    named = _FIELD_PREFIX.match(message)
    return ActionRefused(kind, message, named[1] if named else None)
