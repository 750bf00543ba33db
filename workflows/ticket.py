"""`TicketWorkflow`: one durable workflow per support ticket, holding every SLA clock it carries.

Each running clock cycle is its own task waiting on a durable timer (the next warning or the due
instant); nothing is polled. Deadlines come from the `compute_deadline` local activity, so they are
recorded in history and replay never recomputes them. Handlers only change state and bump a
cycle's revision; the cycle's task recomputes its deadline, and a handler waits until every clock
has settled before it answers, so an Update returns deadlines that are already true.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from policies.snapshot import Clock, SeverityTerms
    from workflows import contract
    from workflows.messages import (
        Acknowledge,
        Action,
        AgentUpdate,
        AssignIncidentCommander,
        ChangeSeverity,
        ClockCycle,
        Close,
        CompleteIntake,
        CompleteReview,
        CustomerReply,
        CycleStatus,
        DeadlineRequest,
        DeadlineResult,
        DeliveryRequest,
        DeliveryResult,
        EngineeringAck,
        Escalate,
        Explanation,
        LedgerEvent,
        Mitigate,
        Notification,
        NotificationRequest,
        OpenReview,
        Pause,
        Reopen,
        RequestCustomerInfo,
        Resolve,
        TicketInput,
        TicketState,
        TicketStatus,
        TicketView,
        WarningRecord,
    )

# Bounds and retry policies: named values, never literals scattered through the handlers.
DEFAULT_CONTINUE_AS_NEW_EVENTS = 8_000
MAX_LEDGER_EVENTS = 500
DEADLINE_TIMEOUT = timedelta(seconds=10)
DEADLINE_RETRY = RetryPolicy(maximum_attempts=5, initial_interval=timedelta(milliseconds=200))
DELIVERY_TIMEOUT = timedelta(seconds=30)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=10,
    non_retryable_error_types=["DeliveryRejected", "NoSuchDestination"],
)
# Clocks whose meeting is worth telling integrations about (a routine update is not news).
MET_NOTIFIED = frozenset(
    {Clock.first_response, Clock.incident_commander, Clock.post_incident_review}
)
# Clocks that count as SLA deadlines for SlaNextDeadline (the escalation window only closes a door).
SLA_CLOCKS = frozenset(set(Clock) - {Clock.escalation_window})
FINAL_OR_CLOSED = (TicketStatus.closed,)


def _refuse(type_: str, message: str) -> ApplicationError:
    """A business refusal: a stable `type` for programs, a sentence for people."""
    return ApplicationError(message, type=type_, non_retryable=True)


@workflow.defn
class TicketWorkflow:
    @workflow.init
    def __init__(self, inp: TicketInput) -> None:
        # State is valid before `run` starts, so an early Update or Signal sees a real ticket.
        self._s: TicketState = inp.state or TicketState(
            key=inp.key,
            sla=inp.sla,
            customer=inp.customer,
            opened_at=inp.opened_at,
            subject=inp.subject,
            channel=inp.channel,
            product=inp.product,
            intake=dict(inp.intake),
        )
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
            self._open()
            self._opened = True
        else:
            # Continued as new: the carried cycles need their tasks back (deadlines are already
            # computed and recorded, so nothing is recomputed).
            self._s.runs += 1
            for cycle in self._s.cycles:
                if cycle.active or cycle.business_used is None:
                    self._spawn(cycle)
        self._publish()
        while True:
            await workflow.wait_condition(
                lambda: self._done() or self._should_continue_as_new() or self._reopen_wait_due(),
            )
            if self._should_continue_as_new():
                await workflow.wait_condition(self._quiet)
                workflow.continue_as_new(
                    TicketInput(
                        key=self._s.key,
                        sla=self._s.sla,
                        customer=self._s.customer,
                        opened_at=self._s.opened_at,
                        subject=self._s.subject,
                        channel=self._s.channel,
                        product=self._s.product,
                        continue_as_new_after_events=self._can_knob,
                        state=self._s,
                    )
                )
            if self._reopen_wait_due():
                await self._wait_out_reopen_window()
                continue
            if self._done():
                break
        await workflow.wait_condition(self._quiet)
        self._publish()
        return self._view()

    def _open(self) -> None:
        s = self._s
        missing = self._missing_intake(s.intake)
        self._event(
            "opened", None, "system", detail=f"policy {s.sla.policy_id} {s.sla.policy_version}"
        )
        if s.sla.cap_reason:
            self._event("severity_capped", None, "system", detail=s.sla.cap_reason)
        if missing:
            s.status = TicketStatus.intake_incomplete
            self._event(
                "intake_incomplete", None, "system", detail="missing: " + ", ".join(missing)
            )
            return
        s.status = TicketStatus.awaiting_first_response
        self._start(Clock.first_response, s.opened_at)

    def _done(self) -> bool:
        """Closed, every clock ended, and the reopen window (if any) is over."""
        s = self._s
        if s.status != TicketStatus.closed or any(c.active for c in s.cycles):
            return False
        deadline = self._reopen_deadline()
        return deadline is None or workflow.now() >= deadline

    def _reopen_deadline(self) -> datetime | None:
        window = self._s.sla.reopen_window
        since = self._s.resolved_at or self._s.closed_at
        if window is None or since is None:
            return None
        return since + window

    def _reopen_wait_due(self) -> bool:
        s = self._s
        deadline = self._reopen_deadline()
        return (
            s.status == TicketStatus.closed
            and not any(c.active for c in s.cycles)
            and deadline is not None
            and workflow.now() < deadline
        )

    async def _wait_out_reopen_window(self) -> None:
        deadline = self._reopen_deadline()
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
            workflow.all_handlers_finished() and self._deliveries_in_flight == 0 and self._settled()
        )

    def _settled(self) -> bool:
        return all(
            (c.computed_revision == c.revision) if c.active else c.business_used is not None
            for c in self._s.cycles
        )

    # -- clock cycles ----------------------------------------------------------------------------
    def _terms(self) -> SeverityTerms:
        return self._s.sla.terms()

    def _start(self, clock: Clock, at: datetime, eta: datetime | None = None) -> ClockCycle | None:
        """Start a new cycle of `clock` if the current severity has a target for it."""
        target = self._s.sla.target(clock)
        if target is None:
            return None
        number = 1 + sum(1 for c in self._s.cycles if c.clock == clock)
        cycle = ClockCycle(
            clock=clock,
            cycle=number,
            severity=self._s.sla.severity,
            started_at=at,
            target_text=target.text,
            business=target.business,
            eta=eta,
        )
        self._s.cycles.append(cycle)
        self._spawn(cycle)
        return cycle

    def _spawn(self, cycle: ClockCycle) -> None:
        self._tasks.append(asyncio.create_task(self._run_cycle(cycle)))

    def _active(self, clock: Clock) -> ClockCycle | None:
        for c in reversed(self._s.cycles):
            if c.clock == clock and c.active:
                return c
        return None

    def _end(self, cycle: ClockCycle, status: CycleStatus, reason: str) -> None:
        now = workflow.now()
        cycle.status = status
        cycle.ended_at = now
        cycle.ended_reason = reason
        if status == CycleStatus.met:
            cycle.met_at = now
        for p in cycle.paused:
            if p.end is None:
                p.end = now

    def _meet(self, clock: Clock, reason: str) -> ClockCycle | None:
        """End the active cycle of `clock` as met (judged by instants: a reply at or before the
        due instant meets it, even when the timer fired in the same workflow task)."""
        cycle = self._active(clock)
        if cycle is None:
            return None
        now = workflow.now()
        if cycle.due_at is not None and now > cycle.due_at:
            # The timer has not run yet in this task, but the instant says breached.
            self._breach(cycle)
            cycle.ended_at = now
            cycle.ended_reason = f"{reason} (late)"
            return cycle
        self._end(cycle, CycleStatus.met, reason)
        if clock in MET_NOTIFIED:
            self._notify(cycle, "met")
        return cycle

    def _stop(self, clock: Clock, reason: str) -> None:
        cycle = self._active(clock)
        if cycle is not None:
            self._end(cycle, CycleStatus.stopped, reason)

    def _breach(self, cycle: ClockCycle) -> None:
        cycle.status = CycleStatus.breached
        cycle.breached_at = cycle.due_at
        cycle.ended_at = workflow.now()
        cycle.ended_reason = "deadline passed"
        self._notify(cycle, "breach")
        self._event("breach", None, "timer", detail=f"{cycle.clock} cycle {cycle.cycle}")

    def _pause(self, clock: Clock) -> None:
        cycle = self._active(clock)
        if cycle is not None and cycle.status == CycleStatus.running:
            cycle.status = CycleStatus.paused
            cycle.paused.append(Pause(start=workflow.now()))
            cycle.revision += 1

    def _resume(self, clock: Clock) -> None:
        cycle = self._active(clock)
        if cycle is not None and cycle.status == CycleStatus.paused:
            cycle.status = CycleStatus.running
            for p in cycle.paused:
                if p.end is None:
                    p.end = workflow.now()
            cycle.revision += 1

    async def _deadline(
        self, cycle: ClockCycle, now: datetime, summary: str, purpose: str
    ) -> DeadlineResult:
        request = DeadlineRequest(
            sla=self._s.sla,
            clock=cycle.clock,
            severity=cycle.severity,
            started_at=cycle.started_at,
            paused=cycle.paused,
            eta=cycle.eta,
            now=now,
            purpose=purpose,
            outcome=None if cycle.active else cycle.status.value,
        )
        async with self._local_activity_lock:
            return await workflow.execute_local_activity(
                "compute_deadline",
                request,
                result_type=DeadlineResult,
                start_to_close_timeout=DEADLINE_TIMEOUT,
                retry_policy=DEADLINE_RETRY,
                summary=summary,
            )

    async def _run_cycle(self, c: ClockCycle) -> None:
        while True:
            if not c.active:
                if c.business_used is None:
                    ended = c.ended_at or workflow.now()
                    result = await self._deadline(
                        c, ended, f"measure {c.clock} #{c.cycle}", "measure"
                    )
                    c.business_used = result.used
                    self._publish()
                return
            if c.computed_revision != c.revision:
                revision = c.revision
                now = workflow.now()
                purpose = "start" if c.computed_revision < 0 else "recompute"
                result = await self._deadline(
                    c, now, f"compute {c.clock} #{c.cycle} deadline", purpose
                )
                if revision != c.revision or not c.active:
                    continue
                self._apply_deadline(c, result, now)
                c.computed_revision = revision
                self._publish()
                continue
            if c.status == CycleStatus.paused or c.due_at is None:
                await workflow.wait_condition(lambda: self._changed(c))
                continue
            event_at, warning = self._next_event(c)
            now = workflow.now()
            if event_at > now:
                try:
                    await workflow.wait_condition(
                        lambda: self._changed(c),
                        timeout=event_at - now,
                        timeout_summary=self._timer_summary(c, warning),
                    )
                    continue
                except TimeoutError:
                    pass
                # Let Updates/Signals delivered in the same workflow task act first; they judge
                # by instants, so a reply at or before the due instant still meets the clock.
                await asyncio.sleep(0)
            if self._changed(c):
                continue
            if warning is not None:
                warning.sent_at = workflow.now()
                self._notify(
                    c,
                    "reminder" if c.clock == Clock.customer_silence else "warning",
                    suffix=str(c.warnings.index(warning) + 1),
                    detail=warning.label,
                )
            else:
                self._fire_due(c)
            self._publish()

    def _changed(self, c: ClockCycle) -> bool:
        return not c.active or c.computed_revision != c.revision

    def _apply_deadline(self, c: ClockCycle, result: DeadlineResult, now: datetime) -> None:
        c.due_at = result.due_at
        c.due_local = result.due_local
        c.due_text = result.due_text
        c.target_text = result.target_text
        c.business = result.business
        c.holidays_in_span = result.holidays_in_span
        c.explanation = result.explanation
        sent = {w.label: w for w in c.warnings if w.sent_at is not None or w.skipped}
        warnings: list[WarningRecord] = []
        for w in result.warnings:
            if w.label in sent:
                warnings.append(sent[w.label])
                continue
            record = WarningRecord(at=w.at, label=w.label, text=w.text)
            # A warning already past whose deadline is past too is noise: the breach says it all.
            if result.due_at is not None and w.at < now and result.due_at <= now:
                record.skipped = True
            warnings.append(record)
        c.warnings = warnings

    def _next_event(self, c: ClockCycle) -> tuple[datetime, WarningRecord | None]:
        assert c.due_at is not None
        for w in c.warnings:
            if w.sent_at is None and not w.skipped and w.at < c.due_at:
                return w.at, w
        return c.due_at, None

    def _timer_summary(self, c: ClockCycle, warning: WarningRecord | None) -> str:
        terms = self._s.sla.terms(c.severity)
        target = f"{terms.label}, {c.target_text}"
        if warning is not None:
            return f"{c.clock} warning ({warning.label}) at {warning.text} — {target}"
        return f"{c.clock} due {c.due_text} — {target}"

    def _fire_due(self, c: ClockCycle) -> None:
        if c.clock == Clock.escalation_window:
            self._end(c, CycleStatus.expired, "escalation window ended")
            c.ended_at = c.due_at
            self._event("escalation_window_closed", None, "timer")
            return
        if c.clock == Clock.customer_silence:
            self._end(c, CycleStatus.expired, "customer silent: ticket auto-closed")
            self._notify(c, "auto_close")
            self._event("auto_close", None, "timer", detail=f"no reply by {c.due_text}")
            self._close("customer silence")
            return
        self._breach(c)

    # -- notifications ---------------------------------------------------------------------------
    def _notify(
        self, c: ClockCycle, event: str, *, suffix: str = "", detail: str | None = None
    ) -> None:
        s = self._s
        terms = s.sla.terms(c.severity)
        wid = contract.ticket_workflow_id(s.key)
        key = f"{wid}:{c.clock}:{c.cycle}:{event}" + (f":{suffix}" if suffix else "")
        record = Notification(event=event, idempotency_key=key, at=workflow.now())
        c.notifications.append(record)
        request = NotificationRequest(
            workflow_id=wid,
            ticket_key=s.key,
            policy=s.sla.policy_id,
            tier=s.sla.tier,
            severity=c.severity,
            severity_label=terms.label,
            clock=c.clock.value,
            cycle=c.cycle,
            event=event,
            due_at=c.due_at,
            due_local=c.due_local,
            due_text=c.due_text,
            idempotency_key=key,
            occurred_at=workflow.now(),
            page_oncall=terms.page_oncall and event in ("warning", "breach"),
            detail=detail,
            subject=s.subject,
        )
        self._deliveries_in_flight += 1
        self._tasks.append(asyncio.create_task(self._deliver(record, request, c.due_text)))

    async def _deliver(
        self, record: Notification, request: NotificationRequest, due_text: str | None
    ) -> None:
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
                record.outcome = "no_route"
                return
            summary = f"{request.event} {request.clock} — {request.ticket_key}" + (
                f", due {due_text}" if due_text else ""
            )
            results = await asyncio.gather(
                *(self._deliver_one(dest, request, summary) for dest in destinations)
            )
            record.deliveries = [
                f"{r.destination}: {r.outcome}"
                + (f" ({r.status})" if r.status else "")
                + (f" {r.detail}" if r.detail and r.outcome != "delivered" else "")
                for r in results
            ]
            delivered = sum(1 for r in results if r.outcome == "delivered")
            record.outcome = (
                "delivered"
                if delivered == len(results)
                else "partly_delivered"
                if delivered
                else "failed"
            )
        finally:
            self._deliveries_in_flight -= 1
            self._publish()

    async def _deliver_one(
        self, destination: str, request: NotificationRequest, summary: str
    ) -> DeliveryResult:
        try:
            return await workflow.execute_activity(
                "deliver_notification",
                DeliveryRequest(destination=destination, notification=request),
                result_type=DeliveryResult,
                start_to_close_timeout=DELIVERY_TIMEOUT,
                retry_policy=DELIVERY_RETRY,
                summary=f"{summary} → {destination}",
            )
        except ActivityError as err:
            cause = err.cause
            detail = (
                str(cause.message) if isinstance(cause, ApplicationError) else str(cause or err)
            )
            return DeliveryResult(destination=destination, outcome="failed", detail=detail[:300])

    # -- ledger and what the UI shows ------------------------------------------------------------
    def _event(
        self,
        action: str,
        actor: str | None,
        via: str,
        accepted: bool = True,
        detail: str | None = None,
    ) -> None:
        self._s.events.append(
            LedgerEvent(
                at=workflow.now(),
                action=action,
                actor=actor,
                via=via,
                accepted=accepted,
                detail=detail,
            )
        )
        if len(self._s.events) > MAX_LEDGER_EVENTS:
            del self._s.events[: len(self._s.events) - MAX_LEDGER_EVENTS]

    def _next_deadline(self) -> tuple[datetime | None, str | None]:
        best: tuple[datetime | None, str | None] = (None, None)
        for c in self._s.cycles:
            running = c.status == CycleStatus.running and c.clock in SLA_CLOCKS
            if running and c.due_at is not None and (best[0] is None or c.due_at < best[0]):
                best = (c.due_at, c.clock.value)
        return best

    def _breached_clocks(self) -> list[str]:
        return sorted({c.clock.value for c in self._s.cycles if c.status == CycleStatus.breached})

    def _publish(self) -> None:
        """Keep search attributes and the current-details table in step with the state.

        Only changed attributes are upserted: each upsert is a history event."""
        s = self._s
        next_at, _ = self._next_deadline()
        breached = self._breached_clocks()
        wanted: dict[str, Any] = {
            contract.SA_POLICY.name: s.sla.policy_id,
            contract.SA_TIER.name: s.sla.tier,
            contract.SA_SEVERITY.name: s.sla.severity,
            contract.SA_STATE.name: s.status.value,
            contract.SA_BREACHED.name: bool(breached),
            contract.SA_NEXT_DEADLINE.name: next_at,
            contract.SA_BREACHED_CLOCKS.name: breached,
        }
        keys = {
            contract.SA_POLICY.name: contract.SA_POLICY,
            contract.SA_TIER.name: contract.SA_TIER,
            contract.SA_SEVERITY.name: contract.SA_SEVERITY,
            contract.SA_STATE.name: contract.SA_STATE,
            contract.SA_BREACHED.name: contract.SA_BREACHED,
            contract.SA_NEXT_DEADLINE.name: contract.SA_NEXT_DEADLINE,
            contract.SA_BREACHED_CLOCKS.name: contract.SA_BREACHED_CLOCKS,
        }
        updates = []
        for name, value in wanted.items():
            if self._published.get(name, ...) == value:
                continue
            key = keys[name]
            if value is None or value == []:
                updates.append(key.value_unset())  # type: ignore[attr-defined]
            else:
                updates.append(key.value_set(value))  # type: ignore[attr-defined]
            self._published[name] = value
        if updates:
            workflow.upsert_search_attributes(updates)
        workflow.set_current_details(self._details_markdown())

    def _details_markdown(self) -> str:
        s = self._s
        terms = s.sla.terms()
        lines = [
            f"**{s.key}** · {s.sla.policy_name} · {s.sla.tier_label} · {terms.label}"
            f" · `{s.status.value}`",
            "",
            "| clock | # | status | due | target |",
            "|---|---|---|---|---|",
        ]
        latest: dict[Clock, ClockCycle] = {}
        for c in s.cycles:
            latest[c.clock] = c
        for c in latest.values():
            due = c.due_text or ("paused" if c.status == CycleStatus.paused else "—")
            lines.append(
                f"| {c.clock.value} | {c.cycle} | {c.status.value} | {due} | {c.target_text} |"
            )
        if s.sla.cap_reason:
            lines += ["", f"Severity capped: {s.sla.cap_reason}"]
        return "\n".join(lines)

    def _view(self) -> TicketView:
        s = self._s
        next_at, next_clock = self._next_deadline()
        terms = s.sla.terms()
        return TicketView(
            key=s.key,
            workflow_id=contract.ticket_workflow_id(s.key),
            policy=s.sla.policy_id,
            policy_version=s.sla.policy_version,
            tier=s.sla.tier,
            severity=s.sla.severity,
            severity_label=terms.label,
            requested_severity=s.sla.requested_severity,
            cap_reason=s.sla.cap_reason,
            status=s.status,
            opened_at=s.opened_at,
            subject=s.subject,
            calendar=s.sla.calendar.name,
            timezone=s.sla.calendar.timezone,
            breached=bool(self._breached_clocks()),
            breached_clocks=self._breached_clocks(),
            next_deadline=next_at,
            next_deadline_clock=next_clock,
            clocks=s.cycles,
            events=s.events,
            incident_commander=s.incident_commander,
            runs=s.runs,
        )

    # -- queries ---------------------------------------------------------------------------------
    @workflow.query
    def status(self) -> TicketView:
        return self._view()

    @workflow.query
    def explain(self, clock: str) -> Explanation:
        try:
            wanted = Clock(clock)
        except ValueError:
            raise _refuse(
                "UnknownClock", f"clock: {clock!r} is not one of {[c.value for c in Clock]}"
            ) from None
        sla = self._s.sla
        cycles = [c for c in self._s.cycles if c.clock == wanted]
        c = cycles[-1] if cycles else None
        severity = c.severity if c else sla.severity
        terms = sla.terms(severity)
        target = terms.targets.get(wanted)
        return Explanation(
            clock=wanted,
            cycle=c.cycle if c else None,
            status=c.status.value if c else None,
            due_at=c.due_at if c else None,
            due_text=c.due_text if c else None,
            target=target.text if target else None,
            business=target.business if target else False,
            calendar=sla.calendar.name,
            timezone=sla.calendar.timezone,
            hours={day: [list(iv) for iv in ivs] for day, ivs in sla.calendar.hours.items()},
            holidays_in_span=c.holidays_in_span if c else [],
            holiday_source=sla.calendar.holiday_source,
            severity=severity,
            severity_label=terms.label,
            cap_reason=sla.cap_reason,
            paused=c.paused if c else [],
            eta=c.eta if c else None,
            policy=sla.policy_id,
            policy_version=sla.policy_version,
            seed=sla.seed,
            source=target.source if target else None,
            text=c.explanation
            if c and c.explanation
            else (
                f"{wanted.value} has not started on this ticket"
                + ("" if target else f" (no target at {terms.label})")
            ),
        )

    # -- actions: one checker and one applier each; Updates and Signals share them ---------------
    def _check_open(self) -> None:
        if self._s.status == TicketStatus.closed:
            raise _refuse("TicketClosed", f"ticket {self._s.key} is closed; reopen it first")

    def _check_eta(self, eta: datetime | None) -> None:
        terms = self._terms()
        if eta is None:
            if terms.eta_required and self._s.status not in (TicketStatus.resolved,):
                raise _refuse(
                    "EtaRequired",
                    f"next_update_eta: {terms.label} responses must promise the next update "
                    f"({self._s.sla.policy_name})",
                )
            return
        if eta <= workflow.now():
            raise _refuse("InvalidEta", "next_update_eta: must be in the future")

    def _public_response(self, eta: datetime | None, reason: str) -> None:
        """A public agent response: meets first_response, restarts the update cadence."""
        s = self._s
        self._meet(Clock.first_response, reason)
        if s.status == TicketStatus.awaiting_first_response:
            s.status = TicketStatus.in_progress
        if s.mitigated_at is None and s.status not in (TicketStatus.resolved, TicketStatus.closed):
            paused = s.status == TicketStatus.waiting_on_customer
            self._meet(Clock.next_update, reason)
            cycle = self._start(Clock.next_update, workflow.now(), eta=eta)
            if cycle is not None and paused:
                cycle.status = CycleStatus.paused
                cycle.paused.append(Pause(start=workflow.now()))

    # acknowledge
    def _check_acknowledge(self, a: Acknowledge) -> None:
        self._check_open()
        if self._s.status == TicketStatus.intake_incomplete:
            raise _refuse(
                "IntakeIncomplete",
                "ticket intake is incomplete: complete it first (no SLA runs yet)",
            )
        if any(c.clock == Clock.first_response and not c.active for c in self._s.cycles):
            raise _refuse(
                "AlreadyAcknowledged", "first response already given; post an update instead"
            )
        self._check_eta(a.next_update_eta)

    def _apply_acknowledge(self, a: Acknowledge) -> None:
        self._public_response(a.next_update_eta, f"acknowledged by {a.actor}")

    # agent_update
    def _check_agent_update(self, a: AgentUpdate) -> None:
        self._check_open()
        if self._s.status == TicketStatus.intake_incomplete:
            raise _refuse(
                "IntakeIncomplete",
                "ticket intake is incomplete: complete it first (no SLA runs yet)",
            )
        self._check_eta(a.next_update_eta)

    def _apply_agent_update(self, a: AgentUpdate) -> None:
        self._public_response(a.next_update_eta, f"update by {a.actor}")

    # request_customer_info
    def _check_request_customer_info(self, a: RequestCustomerInfo) -> None:
        self._check_open()
        if self._s.status in (TicketStatus.resolved, TicketStatus.intake_incomplete):
            raise _refuse(
                "InvalidState", f"cannot wait on the customer while {self._s.status.value}"
            )

    def _apply_request_customer_info(self, a: RequestCustomerInfo) -> None:
        s = self._s
        self._meet(Clock.first_response, f"asked customer ({a.actor})")
        s.status = TicketStatus.waiting_on_customer
        self._pause(Clock.next_update)
        self._stop(Clock.customer_silence, "asked again")
        self._start(Clock.customer_silence, workflow.now())

    # customer_reply
    def _check_customer_reply(self, a: CustomerReply) -> None:
        self._check_open()

    def _apply_customer_reply(self, a: CustomerReply) -> None:
        s = self._s
        if s.status == TicketStatus.waiting_on_customer:
            s.status = (
                TicketStatus.in_progress if s.mitigated_at is None else TicketStatus.mitigated
            )
        self._resume(Clock.next_update)
        self._meet(Clock.customer_silence, f"customer replied ({a.actor})")

    # complete_intake
    def _check_complete_intake(self, a: CompleteIntake) -> None:
        self._check_open()
        if self._s.status != TicketStatus.intake_incomplete:
            raise _refuse("IntakeAlreadyComplete", "ticket intake is already complete")
        missing = self._missing_intake({**self._s.intake, **a.fields})
        if missing:
            raise _refuse("IntakeIncomplete", "fields: still missing " + ", ".join(missing))

    def _apply_complete_intake(self, a: CompleteIntake) -> None:
        s = self._s
        s.intake.update(a.fields)
        s.status = TicketStatus.awaiting_first_response
        self._start(Clock.first_response, workflow.now())

    def _missing_intake(self, intake: dict[str, str]) -> list[str]:
        return [f for f in self._s.sla.intake_required if not str(intake.get(f, "")).strip()]

    # engineering_ack
    def _check_engineering_ack(self, a: EngineeringAck) -> None:
        self._check_open()
        if self._s.engineering_ack_at is not None:
            raise _refuse("AlreadyAcknowledged", "engineering already acknowledged this ticket")

    def _apply_engineering_ack(self, a: EngineeringAck) -> None:
        self._s.engineering_ack_at = workflow.now()
        self._start(Clock.incident_commander, workflow.now())

    # assign_incident_commander
    def _check_assign_incident_commander(self, a: AssignIncidentCommander) -> None:
        self._check_open()

    def _apply_assign_incident_commander(self, a: AssignIncidentCommander) -> None:
        self._s.incident_commander = a.commander
        self._meet(Clock.incident_commander, f"{a.commander} assigned by {a.actor}")

    # change_severity
    def _check_change_severity(self, a: ChangeSeverity) -> None:
        self._check_open()
        sla = self._s.sla
        wanted = sla.find_severity(a.severity)
        if wanted is None:
            labels = ", ".join(t.label for t in sla.severities)
            raise _refuse("UnknownSeverity", f"severity: {a.severity!r} is not one of {labels}")
        terms = sla.terms(wanted)
        if not terms.entitled:
            raise _refuse(
                "NotEntitled",
                f"severity: {terms.not_entitled_reason or terms.label + ' is not entitled'}",
            )
        if wanted == sla.severity:
            raise _refuse("SeverityUnchanged", f"severity: already {terms.label}")

    def _apply_change_severity(self, a: ChangeSeverity) -> None:
        s = self._s
        wanted = s.sla.find_severity(a.severity)
        assert wanted is not None
        s.sla = s.sla.with_severity(wanted)
        for c in s.cycles:
            if not c.active:
                continue
            if s.sla.target(c.clock) is None:
                self._end(
                    c, CycleStatus.stopped, f"severity changed to {s.sla.terms().label}: no target"
                )
                continue
            # Recompute from the cycle's original start, keeping elapsed (business) time.
            c.severity = wanted
            c.revision += 1

    # mitigate
    def _check_mitigate(self, a: Mitigate) -> None:
        self._check_open()
        if self._s.mitigated_at is not None or self._s.status == TicketStatus.resolved:
            raise _refuse("AlreadyMitigated", "ticket is already mitigated")

    def _apply_mitigate(self, a: Mitigate) -> None:
        s = self._s
        s.mitigated_at = workflow.now()
        if s.status != TicketStatus.waiting_on_customer:
            s.status = TicketStatus.mitigated
        self._stop(Clock.next_update, "mitigated")
        self._start_review_clock()

    def _start_review_clock(self) -> None:
        if not any(c.clock == Clock.post_incident_review for c in self._s.cycles):
            self._start(Clock.post_incident_review, workflow.now())

    # resolve
    def _check_resolve(self, a: Resolve) -> None:
        self._check_open()
        if self._s.status == TicketStatus.resolved:
            raise _refuse("AlreadyResolved", "ticket is already resolved")
        if self._s.status == TicketStatus.intake_incomplete:
            raise _refuse("IntakeIncomplete", "ticket intake is incomplete: complete it first")

    def _apply_resolve(self, a: Resolve) -> None:
        s = self._s
        self._meet(Clock.first_response, f"final solution by {a.actor}")
        s.status = TicketStatus.resolved
        s.resolved_at = workflow.now()
        if s.mitigated_at is None:
            s.mitigated_at = s.resolved_at
        self._stop(Clock.next_update, "resolved")
        self._stop(Clock.customer_silence, "resolved")
        self._start_review_clock()
        self._stop(Clock.escalation_window, "resolved again")
        self._start(Clock.escalation_window, workflow.now())

    # reopen
    def _check_reopen(self, a: Reopen) -> None:
        s = self._s
        if s.status not in (TicketStatus.resolved, TicketStatus.closed):
            raise _refuse(
                "NotResolved",
                f"only a resolved or closed ticket can be reopened ({s.status.value})",
            )
        deadline = self._reopen_deadline()
        if deadline is not None and workflow.now() > deadline:
            raise _refuse("ReopenWindowClosed", f"the reopen window ended {deadline.isoformat()}")

    def _apply_reopen(self, a: Reopen) -> None:
        s = self._s
        s.status = TicketStatus.in_progress
        s.resolved_at = None
        s.closed_at = None
        s.mitigated_at = None
        self._stop(Clock.escalation_window, "reopened")

    # close
    def _check_close(self, a: Close) -> None:
        self._check_open()

    def _apply_close(self, a: Close) -> None:
        self._close(a.reason or f"closed by {a.actor}")

    def _close(self, reason: str) -> None:
        s = self._s
        s.status = TicketStatus.closed
        s.closed_at = workflow.now()
        for clock in (
            Clock.first_response,
            Clock.next_update,
            Clock.incident_commander,
            Clock.customer_silence,
        ):
            self._stop(clock, f"ticket closed: {reason}")

    # reviews
    def _check_open_review(self, a: OpenReview) -> None:
        if self._s.review_opened_at is not None:
            raise _refuse("ReviewAlreadyOpen", "the post-incident review is already open")

    def _apply_open_review(self, a: OpenReview) -> None:
        self._s.review_opened_at = workflow.now()
        self._meet(Clock.post_incident_review, f"review opened by {a.actor}")

    def _check_complete_review(self, a: CompleteReview) -> None:
        if self._s.review_opened_at is None:
            raise _refuse("ReviewNotOpen", "open the post-incident review first")
        if self._s.review_completed_at is not None:
            raise _refuse("ReviewAlreadyComplete", "the post-incident review is already complete")

    def _apply_complete_review(self, a: CompleteReview) -> None:
        self._s.review_completed_at = workflow.now()

    # escalate
    def _check_escalate(self, a: Escalate) -> None:
        sla = self._s.sla
        window_in_policy = any(Clock.escalation_window in t.targets for t in sla.severities)
        if not window_in_policy:
            self._check_open()
            return
        if sla.target(Clock.escalation_window) is None:
            raise _refuse(
                "NotEntitled",
                f"{sla.terms().label} tickets cannot be escalated under {sla.policy_name}",
            )
        if self._active(Clock.escalation_window) is None:
            raise _refuse(
                "EscalationWindowClosed",
                "escalation is accepted only inside the escalation window after the final response",
            )

    def _apply_escalate(self, a: Escalate) -> None:
        s = self._s
        s.escalations += 1
        cycle = self._active(Clock.escalation_window) or self._active(Clock.first_response)
        if cycle is None and s.cycles:
            cycle = s.cycles[-1]
        if cycle is not None:
            self._notify(cycle, "escalation", suffix=str(s.escalations), detail=a.reason)

    # -- the dispatcher ----------------------------------------------------------------------------
    def _checker(self, name: str) -> Callable[[Any], None]:
        fn: Callable[[Any], None] = getattr(self, f"_check_{name}")
        return fn

    def _applied(self, name: str, payload: Action) -> None:
        """Apply a checked action. Only ApplicationError may leave a handler: anything else would
        fail the workflow task and retry it forever."""
        try:
            getattr(self, f"_apply_{name}")(payload)
        except ApplicationError:
            raise
        except Exception as bug:  # noqa: BLE001 - converted, logged, never swallowed silently
            workflow.logger.exception("action %s failed on ticket %s", name, self._s.key)
            raise _refuse("InternalError", f"{name} failed: {type(bug).__name__}: {bug}") from bug

    async def _act(self, name: str, payload: Action) -> TicketView:
        # Judge by known deadlines: an action may arrive before a clock's first deadline is
        # computed (a worker outage delayed the first task); wait until every clock has one.
        await workflow.wait_condition(lambda: self._opened and self._settled())
        async with self._lock:
            # Re-check under the lock: another handler may have changed the ticket meanwhile.
            self._checker(name)(payload)
            self._applied(name, payload)
            self._event(name, payload.actor, "update", detail=_detail(payload))
            self._publish()
            await workflow.wait_condition(self._settled)
            self._publish()
            return self._view()

    async def _signalled(self, name: str, payload: Action) -> None:
        # Judge by known deadlines: an action may arrive before a clock's first deadline is
        # computed (a worker outage delayed the first task); wait until every clock has one.
        await workflow.wait_condition(lambda: self._opened and self._settled())
        async with self._lock:
            try:
                self._checker(name)(payload)
            except ApplicationError as refusal:
                # An invalid signal changes nothing; the ledger says it was refused and why.
                self._event(
                    name,
                    payload.actor,
                    "signal",
                    accepted=False,
                    detail=f"{refusal.type}: {refusal.message}",
                )
                return
            try:
                self._applied(name, payload)
            except ApplicationError as failure:
                self._event(name, payload.actor, "signal", accepted=False, detail=failure.message)
                return
            self._event(name, payload.actor, "signal", detail=_detail(payload))
            self._publish()
            await workflow.wait_condition(self._settled)
            self._publish()

    # The opening, sent with the start (update-with-start) ......................................
    @workflow.update
    async def opened(self) -> TicketView:
        """The new ticket once every clock has its first deadline: the front door sends this
        with the start in one request and answers with it, instead of polling `status`."""
        await workflow.wait_condition(lambda: self._opened and self._settled())
        return self._view()

    # Updates (validators reject before anything enters history) ...............................
    @workflow.update
    async def acknowledge(self, a: Acknowledge) -> TicketView:
        return await self._act("acknowledge", a)

    @acknowledge.validator
    def _v_acknowledge(self, a: Acknowledge) -> None:
        self._check_acknowledge(a)

    @workflow.update
    async def agent_update(self, a: AgentUpdate) -> TicketView:
        return await self._act("agent_update", a)

    @agent_update.validator
    def _v_agent_update(self, a: AgentUpdate) -> None:
        self._check_agent_update(a)

    @workflow.update
    async def request_customer_info(self, a: RequestCustomerInfo) -> TicketView:
        return await self._act("request_customer_info", a)

    @request_customer_info.validator
    def _v_request_customer_info(self, a: RequestCustomerInfo) -> None:
        self._check_request_customer_info(a)

    @workflow.update
    async def customer_reply(self, a: CustomerReply) -> TicketView:
        return await self._act("customer_reply", a)

    @customer_reply.validator
    def _v_customer_reply(self, a: CustomerReply) -> None:
        self._check_customer_reply(a)

    @workflow.update
    async def complete_intake(self, a: CompleteIntake) -> TicketView:
        return await self._act("complete_intake", a)

    @complete_intake.validator
    def _v_complete_intake(self, a: CompleteIntake) -> None:
        self._check_complete_intake(a)

    @workflow.update
    async def engineering_ack(self, a: EngineeringAck) -> TicketView:
        return await self._act("engineering_ack", a)

    @engineering_ack.validator
    def _v_engineering_ack(self, a: EngineeringAck) -> None:
        self._check_engineering_ack(a)

    @workflow.update
    async def assign_incident_commander(self, a: AssignIncidentCommander) -> TicketView:
        return await self._act("assign_incident_commander", a)

    @assign_incident_commander.validator
    def _v_assign_incident_commander(self, a: AssignIncidentCommander) -> None:
        self._check_assign_incident_commander(a)

    @workflow.update
    async def change_severity(self, a: ChangeSeverity) -> TicketView:
        return await self._act("change_severity", a)

    @change_severity.validator
    def _v_change_severity(self, a: ChangeSeverity) -> None:
        self._check_change_severity(a)

    @workflow.update
    async def mitigate(self, a: Mitigate) -> TicketView:
        return await self._act("mitigate", a)

    @mitigate.validator
    def _v_mitigate(self, a: Mitigate) -> None:
        self._check_mitigate(a)

    @workflow.update
    async def resolve(self, a: Resolve) -> TicketView:
        return await self._act("resolve", a)

    @resolve.validator
    def _v_resolve(self, a: Resolve) -> None:
        self._check_resolve(a)

    @workflow.update
    async def reopen(self, a: Reopen) -> TicketView:
        return await self._act("reopen", a)

    @reopen.validator
    def _v_reopen(self, a: Reopen) -> None:
        self._check_reopen(a)

    @workflow.update
    async def close(self, a: Close) -> TicketView:
        return await self._act("close", a)

    @close.validator
    def _v_close(self, a: Close) -> None:
        self._check_close(a)

    @workflow.update
    async def open_review(self, a: OpenReview) -> TicketView:
        return await self._act("open_review", a)

    @open_review.validator
    def _v_open_review(self, a: OpenReview) -> None:
        self._check_open_review(a)

    @workflow.update
    async def complete_review(self, a: CompleteReview) -> TicketView:
        return await self._act("complete_review", a)

    @complete_review.validator
    def _v_complete_review(self, a: CompleteReview) -> None:
        self._check_complete_review(a)

    @workflow.update
    async def escalate(self, a: Escalate) -> TicketView:
        return await self._act("escalate", a)

    @escalate.validator
    def _v_escalate(self, a: Escalate) -> None:
        self._check_escalate(a)

    # Signals: the same actions, fire-and-forget (an invalid one is recorded as rejected) .........
    @workflow.signal(name="acknowledge")
    async def signal_acknowledge(self, a: Acknowledge) -> None:
        await self._signalled("acknowledge", a)

    @workflow.signal(name="agent_update")
    async def signal_agent_update(self, a: AgentUpdate) -> None:
        await self._signalled("agent_update", a)

    @workflow.signal(name="request_customer_info")
    async def signal_request_customer_info(self, a: RequestCustomerInfo) -> None:
        await self._signalled("request_customer_info", a)

    @workflow.signal(name="customer_reply")
    async def signal_customer_reply(self, a: CustomerReply) -> None:
        await self._signalled("customer_reply", a)

    @workflow.signal(name="complete_intake")
    async def signal_complete_intake(self, a: CompleteIntake) -> None:
        await self._signalled("complete_intake", a)

    @workflow.signal(name="engineering_ack")
    async def signal_engineering_ack(self, a: EngineeringAck) -> None:
        await self._signalled("engineering_ack", a)

    @workflow.signal(name="assign_incident_commander")
    async def signal_assign_incident_commander(self, a: AssignIncidentCommander) -> None:
        await self._signalled("assign_incident_commander", a)

    @workflow.signal(name="change_severity")
    async def signal_change_severity(self, a: ChangeSeverity) -> None:
        await self._signalled("change_severity", a)

    @workflow.signal(name="mitigate")
    async def signal_mitigate(self, a: Mitigate) -> None:
        await self._signalled("mitigate", a)

    @workflow.signal(name="resolve")
    async def signal_resolve(self, a: Resolve) -> None:
        await self._signalled("resolve", a)

    @workflow.signal(name="reopen")
    async def signal_reopen(self, a: Reopen) -> None:
        await self._signalled("reopen", a)

    @workflow.signal(name="close")
    async def signal_close(self, a: Close) -> None:
        await self._signalled("close", a)

    @workflow.signal(name="open_review")
    async def signal_open_review(self, a: OpenReview) -> None:
        await self._signalled("open_review", a)

    @workflow.signal(name="complete_review")
    async def signal_complete_review(self, a: CompleteReview) -> None:
        await self._signalled("complete_review", a)

    @workflow.signal(name="escalate")
    async def signal_escalate(self, a: Escalate) -> None:
        await self._signalled("escalate", a)


def _detail(payload: Action) -> str | None:
    """A short ledger note: the action's fields except the actor, truncated."""
    fields = payload.model_dump(exclude={"actor"}, exclude_none=True, mode="json")
    if not fields:
        return None
    text = ", ".join(f"{k}={v}" for k, v in fields.items())
    return text if len(text) <= 300 else text[:297] + "..."
