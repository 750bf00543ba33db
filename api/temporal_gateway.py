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
from datetime import timedelta
from typing import Any, Protocol

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

from api.schemas import TicketSummary
from policies.snapshot import Clock
from workflows.actions import ActionName
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
from workflows.messages import Action, Explanation, TicketInput, TicketStatus, TicketView
from workflows.ticket import TicketWorkflow
from workflows.updates import execute_action, update_name

log = logging.getLogger(__name__)

FINGERPRINT_MEMO = "request_fingerprint"


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
