"""`TicketWorkflow`: one durable workflow per support ticket, a thin shell around the rules core.

Every rule lives in `workflows.core.decide` (pure, property-tested); this class only runs what
the decisions ask for: one task per running clock cycle waiting on a durable timer (the next
warning or the due instant; nothing is polled), the `compute_deadline` local activity (so
deadlines are recorded in history and replay never recomputes them), the notification
activities, search attributes, and the Temporal handlers derived from `workflows.actions`.
Handlers wait until every clock has settled before answering, so an Update returns deadlines
that are already true.

No `from __future__ import annotations` here: the sandbox re-imports this module for every new
run, and string annotations would be evaluated again each time (about 1 ms of worker CPU per
ticket, measured by replaying tests/histories/ticket-HIST-opened-over-http.json).
"""

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    import workflows.core as core
    import workflows.rules as rules
    import workflows.views as views
    from policies.snapshot import Clock
    from workflows.actions import RULES, UPDATE_ROUTES
    from workflows.contract import SEARCH_ATTRIBUTES
    from workflows.messages import (
        Action,
        ClockCycle,
        CycleStatus,
        DeadlineResult,
        DeliveryRequest,
        DeliveryResult,
        Explanation,
        NotificationRequest,
        TicketInput,
        TicketState,
        TicketStatus,
        TicketView,
    )

# Bounds and retry policies: named values, never literals scattered through the handlers.
DEFAULT_CONTINUE_AS_NEW_EVENTS = 8_000
MAX_LEDGER_EVENTS = rules.MAX_LEDGER_EVENTS
DEADLINE_TIMEOUT = timedelta(seconds=10)
DEADLINE_RETRY = RetryPolicy(maximum_attempts=5, initial_interval=timedelta(milliseconds=200))
DELIVERY_TIMEOUT = timedelta(seconds=30)
# A delivery cut off by a dead worker is retried once its heartbeats stop (the worker's
# ActivityHeartbeats interceptor beats for it), not after the whole 30 s: drills.failover measured
# retries 31-33 s late without it, 3-8 s with it. The cost: a worker whose event loop stalls
# longer than this has its live delivery retried, which receivers see as a same-key duplicate.
DELIVERY_HEARTBEAT = timedelta(seconds=2)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=["DeliveryRejected", "NoSuchDestination"],
)
_SA_KEYS = {key.name: key for key in SEARCH_ATTRIBUTES}
# An action breaches every SLA cycle already past its deadline before it applies (issue 17 found a
# late timer losing a breach). Histories recorded before that rule took their actions without it,
# and may then have scheduled different notifications: replaying them keeps the old rule.
BREACH_OVERDUE_PATCH = "breach-overdue-before-action"


def _refuse(refusal: rules.Refusal) -> ApplicationError:
    return ApplicationError(refusal.message, type=refusal.type, non_retryable=True)


@workflow.defn
class TicketWorkflow:
    @workflow.init
    def __init__(self, inp: TicketInput) -> None:
        # State is valid before `run` starts, so an early Update or Signal sees a real ticket.
        self._s: TicketState = inp.state or rules.new_state(inp)
        self._fresh = inp.state is None
        self._can_after = inp.continue_as_new_after_events or DEFAULT_CONTINUE_AS_NEW_EVENTS
        self._can_knob = inp.continue_as_new_after_events
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries_in_flight = 0
        self._published: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        # One local activity at a time: two resolving in the same activation can interleave the
        # commands that follow them differently on replay (nondeterminism). FIFO keeps order.
        self._local_activity_lock = asyncio.Lock()
        # Handlers may run before `run` in the first workflow task; they wait for the opening.
        self._opened = not self._fresh

    # -- run -------------------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: TicketInput) -> TicketView:
        if self._fresh:
            self._commit(core.decide(self._s, rules.Open(), workflow.now()), publish=False)
            self._opened = True
        else:
            # Continued as new: the carried cycles need their tasks back (deadlines are already
            # computed and recorded, so nothing is recomputed).
            self._commit(core.decide(self._s, rules.Continued(), workflow.now()), publish=False)
            for cycle in self._s.cycles:
                if cycle.active or cycle.business_used is None:
                    self._spawn(cycle.clock, cycle.cycle)
        self._publish()
        while True:
            await workflow.wait_condition(
                lambda: self._done() or self._should_continue_as_new() or self._reopen_wait_due(),
            )
            if self._should_continue_as_new():
                await workflow.wait_condition(self._quiet)
                s = self._s
                workflow.continue_as_new(
                    TicketInput(
                        key=s.key,
                        sla=s.sla,
                        customer=s.customer,
                        opened_at=s.opened_at,
                        subject=s.subject,
                        channel=s.channel,
                        product=s.product,
                        continue_as_new_after_events=self._can_knob,
                        state=s,
                    )
                )
            if self._reopen_wait_due():
                await self._wait_out_reopen_window()
                continue
            if self._done():
                break
        await workflow.wait_condition(self._quiet)
        self._publish()
        return views.view(self._s)

    def _commit(self, decision: core.Decision, *, publish: bool = True) -> None:
        """Make an accepted decision the ticket's state and carry out its effects, in order."""
        assert decision.state is not None
        self._s = decision.state
        wants_publish = False
        for effect in decision.effects:
            if isinstance(effect, rules.CycleStarted):
                self._spawn(effect.clock, effect.cycle)
            elif isinstance(effect, rules.Notify):
                self._deliveries_in_flight += 1
                self._tasks.append(asyncio.create_task(self._deliver(effect.request)))
            elif isinstance(effect, rules.Publish):
                wants_publish = True
        if publish and wants_publish:
            self._publish()

    def _done(self) -> bool:
        """Closed, every clock ended, and the reopen window (if any) is over."""
        s = self._s
        if s.status != TicketStatus.closed or any(c.active for c in s.cycles):
            return False
        deadline = rules.reopen_deadline(s)
        return deadline is None or workflow.now() >= deadline

    def _reopen_wait_due(self) -> bool:
        s = self._s
        deadline = rules.reopen_deadline(s)
        return (
            s.status == TicketStatus.closed
            and not any(c.active for c in s.cycles)
            and deadline is not None
            and workflow.now() < deadline
        )

    async def _wait_out_reopen_window(self) -> None:
        deadline = rules.reopen_deadline(self._s)
        assert deadline is not None
        remaining = deadline - workflow.now()
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._s.status != TicketStatus.closed or self._should_continue_as_new(),
                timeout=remaining,
                timeout_summary=f"reopen window ends {deadline:%a %d %b %H:%M} UTC",
            )

    def _should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self._can_after
        )

    def _quiet(self) -> bool:
        return (
            workflow.all_handlers_finished()
            and self._deliveries_in_flight == 0
            and rules.settled(self._s)
        )

    def _settled(self) -> bool:
        return rules.settled(self._s)

    # -- clock cycles: one task each, waiting on its timer ----------------------------------------
    def _spawn(self, clock: Clock, number: int) -> None:
        self._tasks.append(asyncio.create_task(self._run_cycle(clock, number)))

    def _cycle(self, clock: Clock, number: int) -> ClockCycle | None:
        return rules.find_cycle(self._s, clock, number)

    def _changed(self, clock: Clock, number: int) -> bool:
        c = self._cycle(clock, number)
        return c is None or not c.active or c.computed_revision != c.revision

    async def _deadline(
        self, c: ClockCycle, now: datetime, summary: str, purpose: str
    ) -> DeadlineResult:
        request = rules.deadline_request(self._s, c, now, purpose)
        async with self._local_activity_lock:
            result: DeadlineResult = await workflow.execute_local_activity(
                "compute_deadline",
                request,
                result_type=DeadlineResult,
                start_to_close_timeout=DEADLINE_TIMEOUT,
                retry_policy=DEADLINE_RETRY,
                summary=summary,
            )
        return result

    def _apply(self, inp: rules.ClockInput, now: datetime | None = None) -> None:
        self._commit(core.decide(self._s, inp, now or workflow.now()))

    async def _run_cycle(self, clock: Clock, number: int) -> None:
        while True:
            c = self._cycle(clock, number)
            if c is None:
                return
            if not c.active:
                if c.business_used is None:
                    ended = c.ended_at or workflow.now()
                    result = await self._deadline(c, ended, f"measure {clock} #{number}", "measure")
                    self._apply(rules.Measured(clock, number, result.used))
                return
            if c.computed_revision != c.revision:
                revision = c.revision
                now = workflow.now()
                purpose = "start" if c.computed_revision < 0 else "recompute"
                summary = f"compute {clock} #{number} deadline"
                result = await self._deadline(c, now, summary, purpose)
                c = self._cycle(clock, number)
                if c is None or revision != c.revision or not c.active:
                    continue
                self._apply(rules.DeadlineComputed(clock, number, revision, result, now))
                continue
            if c.status == CycleStatus.paused or c.due_at is None:
                await workflow.wait_condition(lambda: self._changed(clock, number))
                continue
            event_at, warning = rules.next_event(c)
            now = workflow.now()
            if event_at > now:
                try:
                    await workflow.wait_condition(
                        lambda: self._changed(clock, number),
                        timeout=event_at - now,
                        timeout_summary=self._timer_summary(c, warning),
                    )
                    continue
                except TimeoutError:
                    pass
                # Let Updates/Signals delivered in the same workflow task act first; they judge
                # by instants, so a reply at or before the due instant still meets the clock.
                await asyncio.sleep(0)
            if self._changed(clock, number):
                continue
            if warning is not None:
                self._apply(rules.WarningFired(clock, number, warning.label))
            else:
                self._apply(rules.DueFired(clock, number))

    def _timer_summary(self, c: ClockCycle, warning: Any) -> str:
        terms = self._s.sla.terms(c.severity)
        target = f"{terms.label}, {c.target_text}"
        if warning is not None:
            return f"{c.clock} warning ({warning.label}) at {warning.text} — {target}"
        return f"{c.clock} due {c.due_text} — {target}"

    # -- notifications ---------------------------------------------------------------------------
    async def _deliver(self, request: NotificationRequest) -> None:
        outcome: str = "failed"
        deliveries: tuple[str, ...] = ()
        try:
            async with self._local_activity_lock:
                destinations: list[str] = await workflow.execute_local_activity(
                    "route_notification",
                    request,
                    result_type=list[str],
                    start_to_close_timeout=DEADLINE_TIMEOUT,
                    retry_policy=DEADLINE_RETRY,
                    summary=f"route {request.event} {request.clock}",
                )
            if not destinations:
                outcome = "no_route"
                return
            summary = f"{request.event} {request.clock} — {request.ticket_key}" + (
                f", due {request.due_text}" if request.due_text else ""
            )
            results = await asyncio.gather(
                *(self._deliver_one(dest, request, summary) for dest in destinations)
            )
            deliveries = tuple(
                f"{r.destination}: {r.outcome}"
                + (f" ({r.status})" if r.status else "")
                + (f" {r.detail}" if r.detail and r.outcome != "delivered" else "")
                for r in results
            )
            delivered = sum(1 for r in results if r.outcome == "delivered")
            outcome = (
                "delivered"
                if delivered == len(results)
                else "partly_delivered"
                if delivered
                else "failed"
            )
        finally:
            self._deliveries_in_flight -= 1
            self._apply(rules.Delivered(request.idempotency_key, outcome, deliveries))

    async def _deliver_one(
        self, destination: str, request: NotificationRequest, summary: str
    ) -> DeliveryResult:
        try:
            result: DeliveryResult = await workflow.execute_activity(
                "deliver_notification",
                DeliveryRequest(destination=destination, notification=request),
                result_type=DeliveryResult,
                start_to_close_timeout=DELIVERY_TIMEOUT,
                heartbeat_timeout=DELIVERY_HEARTBEAT,
                retry_policy=DELIVERY_RETRY,
                summary=f"{summary} → {destination}",
            )
        except ActivityError as err:
            cause = err.cause
            detail = (
                str(cause.message) if isinstance(cause, ApplicationError) else str(cause or err)
            )
            return DeliveryResult(destination=destination, outcome="failed", detail=detail[:300])
        return result

    # -- what the UI shows -----------------------------------------------------------------------
    def _publish(self) -> None:
        """Keep search attributes and the current-details table in step with the state.

        Only changed attributes are upserted: each upsert is a history event."""
        updates = []
        for name, value in views.search_attributes(self._s).items():
            if self._published.get(name, ...) == value:
                continue
            key = _SA_KEYS[name]
            if value is None or value == []:
                updates.append(key.value_unset())
            else:
                updates.append(key.value_set(value))
            self._published[name] = value
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(views.details_markdown(self._s))

    # -- queries ---------------------------------------------------------------------------------
    @workflow.query
    def status(self) -> TicketView:
        return views.view(self._s)

    @workflow.query
    def explain(self, clock: str) -> Explanation:
        try:
            return views.explain(self._s, clock)
        except rules.Refused as refused:
            raise _refuse(refused.refusal) from None

    # -- actions: every handler dispatches through the table (workflows/actions.py) --------------
    def _validate(self, a: Action) -> None:
        refusal = core.check(self._s, a, workflow.now())
        if refusal is not None:
            raise _refuse(refusal)

    async def _act(self, a: Action) -> TicketView:
        # Judge by known deadlines: an action may arrive before a clock's first deadline is
        # computed (a worker outage delayed the first task); wait until every clock has one.
        await workflow.wait_condition(lambda: self._opened and self._settled())
        async with self._lock:
            # Decided under the lock: another handler may have changed the ticket meanwhile.
            decision = core.decide(
                self._s, a, workflow.now(), breach_overdue=workflow.patched(BREACH_OVERDUE_PATCH)
            )
            if decision.refusal is not None:
                if decision.refusal.type == "InternalError":
                    workflow.logger.error(
                        "action %s refused on ticket %s: %s",
                        RULES[type(a)].update,
                        self._s.key,
                        decision.refusal.message,
                    )
                raise _refuse(decision.refusal)
            self._commit(decision)
            await workflow.wait_condition(self._settled)
            self._publish()
            return views.view(self._s)

    @workflow.signal(dynamic=True)
    async def signal(self, name: str, args: Sequence[RawValue]) -> None:
        """Every action as a Signal, fire-and-forget, under its action name (`acknowledge`, ...).

        The payload is decoded here, not by the SDK, so a malformed or unknown one is recorded in
        the ledger with `accepted: false` and why, like any refused Signal."""
        data: Any = None
        if args:
            try:
                data = workflow.payload_converter().from_payload(args[0].payload)
            except Exception as err:  # noqa: BLE001 - undecodable: refused in the ledger
                data = None
                parsed: Action | rules.Refusal = rules.Refusal(
                    "InvalidPayload", f"undecodable payload: {type(err).__name__}"
                )
            else:
                parsed = core.parse(name, data)
        else:
            parsed = rules.Refusal("InvalidPayload", "no payload")
        # Judge by known deadlines (see `_act`).
        await workflow.wait_condition(lambda: self._opened and self._settled())
        async with self._lock:
            if isinstance(parsed, rules.Refusal):
                actor = core.actor_of(data)
                self._s = core.refused_signal(self._s, name, actor, parsed, workflow.now())
                return
            decision = core.decide(
                self._s,
                parsed,
                workflow.now(),
                via="signal",
                breach_overdue=workflow.patched(BREACH_OVERDUE_PATCH),
            )
            if decision.refusal is not None:
                # An invalid signal changes nothing; the ledger says it was refused and why.
                self._s = core.refused_signal(
                    self._s, name, parsed.actor, decision.refusal, workflow.now()
                )
                return
            self._commit(decision)
            await workflow.wait_condition(self._settled)
            self._publish()

    # The opening, sent with the start (update-with-start) ......................................
    @workflow.update
    async def opened(self) -> TicketView:
        """The new ticket once every clock has its first deadline: the front door sends this
        with the start in one request and answers with it, instead of polling `status`."""
        await workflow.wait_condition(lambda: self._opened and self._settled())
        return views.view(self._s)

    # Updates: every action of workflows.actions under its name (`acknowledge`, ..., `migrate`) ..
    # One dynamic handler rather than one typed method per action: the sandbox re-imports this
    # module for every run, and 16 typed Updates with validators cost about a third of a
    # ticket's worker CPU to define (bench/throughput.py). Validators still refuse before
    # anything enters history, and replay finds the handler by name as before.
    @workflow.update(dynamic=True)
    async def act(self, name: str, args: Sequence[RawValue]) -> TicketView:
        return await self._act(self._update_payload(name, args))

    @act.validator
    def _v_act(self, name: str, args: Sequence[RawValue]) -> None:
        self._validate(self._update_payload(name, args))

    def _update_payload(self, name: str, args: Sequence[RawValue]) -> Action:
        """The action an Update carries, decoded with its table entry's model; anything else is
        refused by the validator (so it never reaches history) naming what is wrong."""
        route = UPDATE_ROUTES.get(name)
        if route is None:
            raise _refuse(rules.Refusal("UnknownAction", f"{name!r} is not an action"))
        if len(args) != 1:
            raise _refuse(rules.Refusal("InvalidPayload", f"{name} takes one argument"))
        try:
            action: Action = workflow.payload_converter().from_payload(args[0].payload, route.model)
        except Exception as err:  # noqa: BLE001 - a malformed body is a refusal, not a bug
            raise _refuse(
                rules.Refusal("InvalidPayload", f"{name}: {type(err).__name__}: {err}"[:500])
            ) from None
        return action
