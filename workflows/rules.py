"""The ticket's rules, pure: what each action and each clock firing does to a ticket's state.

No Temporal here (and nothing of ours but `policies`, `workflows.messages` and `workflows.keys`):
`workflows.core.decide(state, action, now)` runs these on a copy of the state and returns either a
refusal or the new state with its effects; `TicketWorkflow` only runs timers, the deadline local
activity and the notification activities those effects ask for. Property tests drive the same
functions over random sequences (tests/test_rules_properties.py).

Vocabulary: a *cycle* is one run of one clock (`ClockCycle`); it starts, may pause and resume,
and ends once: met, breached (then perhaps answered late), stopped or expired.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from policies.snapshot import Clock, ResolvedSla
from workflows.keys import ticket_workflow_id
from workflows.messages import (
    Acknowledge,
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
    EngineeringAck,
    Escalate,
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
    WarningRecord,
)

# Bounds on what a ticket carries (continue-as-new passes the whole state as one payload).
MAX_LEDGER_EVENTS = 200
ENDED_CYCLES_KEPT = 3  # per clock, besides the running one and those not yet measured
MAX_NOTIFICATIONS_PER_CYCLE = 20
MAX_DETAIL = 300
# Source event ids a ticket remembers (`TicketState.applied_event_ids`, FIFO): a redelivery of
# any of its last this-many applied events is refused as `DuplicateEvent`.
MAX_APPLIED_EVENT_IDS = 256
DUPLICATE_EVENT = "DuplicateEvent"

# Clocks whose meeting is worth telling integrations about (a routine update is not news).
MET_NOTIFIED = frozenset(
    {Clock.first_response, Clock.incident_commander, Clock.post_incident_review}
)
# Clocks that count as SLA deadlines for SlaNextDeadline (the escalation window only closes a door).
SLA_CLOCKS = frozenset(set(Clock) - {Clock.escalation_window})


# -- refusals ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refusal:
    """A business refusal: a stable `type` for programs, a sentence for people."""

    type: str
    message: str


class Refused(Exception):  # noqa: N818 - a refusal, not an error
    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.refusal = Refusal(type_, message)


# -- effects: what the shell must do once a decision is committed -------------------------------
@dataclass(frozen=True)
class CycleStarted:
    clock: Clock
    cycle: int


@dataclass(frozen=True)
class CycleEnded:
    clock: Clock
    cycle: int
    status: CycleStatus


@dataclass(frozen=True)
class CyclePaused:
    clock: Clock
    cycle: int


@dataclass(frozen=True)
class CycleResumed:
    clock: Clock
    cycle: int


@dataclass(frozen=True)
class CycleRecomputed:
    clock: Clock
    cycle: int


@dataclass(frozen=True)
class Notify:
    request: NotificationRequest


@dataclass(frozen=True)
class Publish:
    """Search attributes and the current details may have changed."""


Effect = CycleStarted | CycleEnded | CyclePaused | CycleResumed | CycleRecomputed | Notify | Publish


# -- clock and bookkeeping inputs (the shell's timers and activities report through these) ------
@dataclass(frozen=True)
class Open:
    """The ticket opens (first run only)."""


@dataclass(frozen=True)
class Continued:
    """A new run after continue-as-new."""


@dataclass(frozen=True)
class WarningFired:
    clock: Clock
    cycle: int
    label: str


@dataclass(frozen=True)
class DueFired:
    clock: Clock
    cycle: int


@dataclass(frozen=True)
class DeadlineComputed:
    clock: Clock
    cycle: int
    revision: int
    result: DeadlineResult
    computed_at: datetime  # the instant the request was made for


@dataclass(frozen=True)
class Measured:
    clock: Clock
    cycle: int
    used: timedelta


@dataclass(frozen=True)
class Delivered:
    idempotency_key: str
    outcome: str
    deliveries: tuple[str, ...] = ()


ClockInput = Open | Continued | WarningFired | DueFired | DeadlineComputed | Measured | Delivered


# -- the working context: a state copy, the instant, the effects so far -------------------------
@dataclass
class Ctx:
    s: TicketState
    now: datetime
    effects: list[Effect] = field(default_factory=list)

    # cycles .....................................................................................
    def find(self, clock: Clock, number: int) -> ClockCycle | None:
        return find_cycle(self.s, clock, number)

    def active(self, clock: Clock) -> ClockCycle | None:
        return active_cycle(self.s, clock)

    def start(self, clock: Clock, at: datetime, eta: datetime | None = None) -> ClockCycle | None:
        """Start a new cycle of `clock` if the current severity has a target for it."""
        target = self.s.sla.target(clock)
        if target is None:
            return None
        last = latest_cycle(self.s, clock)
        cycle = ClockCycle(
            clock=clock,
            cycle=(last.cycle if last else 0) + 1,
            severity=self.s.sla.severity,
            started_at=at,
            target_text=target.text,
            business=target.business,
            eta=eta,
        )
        self.s.cycles.append(cycle)
        self.effects.append(CycleStarted(clock, cycle.cycle))
        return cycle

    def end(self, cycle: ClockCycle, status: CycleStatus, reason: str) -> None:
        cycle.status = status
        cycle.ended_at = self.now
        cycle.ended_reason = reason
        if status == CycleStatus.met:
            cycle.met_at = self.now
        for p in cycle.paused:
            if p.end is None:
                p.end = self.now
        self.effects.append(CycleEnded(cycle.clock, cycle.cycle, status))

    def meet(self, clock: Clock, reason: str) -> ClockCycle | None:
        """The answer `clock` waits for came now.

        Judged by instants: at or before the due instant meets the cycle, even when its timer
        fired in the same workflow task. After the due instant the cycle is breached (if its
        timer has not said so yet) and the answer is recorded on it: when, and how late."""
        cycle = self.active(clock)
        if cycle is not None:
            if cycle.due_at is not None and self.now > cycle.due_at:
                self.breach(cycle)
                cycle.ended_reason = f"{reason} (late)"
                self._answer_late(cycle, reason)
                return cycle
            self.end(cycle, CycleStatus.met, reason)
            if clock in MET_NOTIFIED:
                self.notify(cycle, "met")
            return cycle
        late = unanswered_breach(self.s, clock)
        if late is not None:
            self._answer_late(late, reason)
        return late

    def _answer_late(self, cycle: ClockCycle, reason: str) -> None:
        cycle.answered_at = self.now
        cycle.late_by = self.now - cycle.due_at if cycle.due_at else None
        self.event(
            "answered_late",
            None,
            "system",
            detail=f"{cycle.clock} cycle {cycle.cycle}: {reason}, "
            f"{_duration_text(cycle.late_by)} after the deadline",
        )

    def stop(self, clock: Clock, reason: str) -> None:
        cycle = self.active(clock)
        if cycle is not None:
            self.end(cycle, CycleStatus.stopped, reason)

    def breach(self, cycle: ClockCycle) -> None:
        cycle.status = CycleStatus.breached
        cycle.breached_at = cycle.due_at
        cycle.ended_at = self.now
        cycle.ended_reason = "deadline passed"
        self.effects.append(CycleEnded(cycle.clock, cycle.cycle, CycleStatus.breached))
        self.notify(cycle, "breach")
        self.event("breach", None, "timer", detail=f"{cycle.clock} cycle {cycle.cycle}")

    def pause(self, clock: Clock) -> None:
        cycle = self.active(clock)
        if cycle is not None and cycle.status == CycleStatus.running:
            cycle.status = CycleStatus.paused
            cycle.paused.append(Pause(start=self.now))
            cycle.revision += 1
            self.effects.append(CyclePaused(clock, cycle.cycle))

    def resume(self, clock: Clock) -> None:
        cycle = self.active(clock)
        if cycle is not None and cycle.status == CycleStatus.paused:
            cycle.status = CycleStatus.running
            for p in cycle.paused:
                if p.end is None:
                    p.end = self.now
            cycle.revision += 1
            self.effects.append(CycleResumed(clock, cycle.cycle))

    def recompute(self, cycle: ClockCycle) -> None:
        cycle.revision += 1
        self.effects.append(CycleRecomputed(cycle.clock, cycle.cycle))

    # notifications and the ledger .............................................................
    def notify(
        self, c: ClockCycle, event: str, *, suffix: str = "", detail: str | None = None
    ) -> None:
        s = self.s
        terms = s.sla.terms(c.severity)
        wid = ticket_workflow_id(s.key)
        key = f"{wid}:{c.clock}:{c.cycle}:{event}" + (f":{suffix}" if suffix else "")
        c.notifications.append(Notification(event=event, idempotency_key=key, at=self.now))
        if len(c.notifications) > MAX_NOTIFICATIONS_PER_CYCLE:
            del c.notifications[: len(c.notifications) - MAX_NOTIFICATIONS_PER_CYCLE]
        self.effects.append(
            Notify(
                NotificationRequest(
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
                    occurred_at=self.now,
                    page_oncall=terms.page_oncall and event in ("warning", "breach"),
                    detail=detail,
                    subject=s.subject,
                )
            )
        )

    def event(
        self,
        action: str,
        actor: str | None,
        via: str,
        accepted: bool = True,
        detail: str | None = None,
    ) -> None:
        append_event(self.s, self.now, action, actor, via, accepted, detail)

    # the ticket's obligations ...................................................................
    def public_response(self, eta: datetime | None, reason: str) -> None:
        """A public agent response: gives the first response, restarts the update cadence."""
        s = self.s
        self.give_first_response(reason)
        if s.status == TicketStatus.awaiting_first_response:
            s.status = TicketStatus.in_progress
        if eta is not None:
            s.promised_update_at = eta
        if s.mitigated_at is None and s.status not in (TicketStatus.resolved, TicketStatus.closed):
            s.cadence_on = True
            self.meet(Clock.next_update, reason)
            cycle = self.start(Clock.next_update, self.now, eta=eta)
            if cycle is not None and waiting_pauses_cadence(s):
                cycle.status = CycleStatus.paused
                cycle.paused.append(Pause(start=self.now))
            if cycle is None and eta is not None:
                self.event(
                    "eta_recorded",
                    None,
                    "system",
                    detail=f"next update promised by {eta.isoformat()}; "
                    f"{s.sla.terms().label} has no update cadence under {s.sla.policy_name}",
                )
        elif eta is not None:
            self.event(
                "eta_recorded",
                None,
                "system",
                detail=f"next update promised by {eta.isoformat()}; no update cadence runs "
                f"while the ticket is {s.status.value}",
            )

    def give_first_response(self, reason: str) -> None:
        s = self.s
        self.meet(Clock.first_response, reason)
        if s.first_response_at is None:
            s.first_response_at = self.now

    def start_review_clock(self) -> None:
        if latest_cycle(self.s, Clock.post_incident_review) is None:
            self.start(Clock.post_incident_review, self.now)

    def close(self, reason: str) -> None:
        s = self.s
        s.status = TicketStatus.closed
        s.closed_at = self.now
        s.cadence_on = False
        for clock in (
            Clock.first_response,
            Clock.next_update,
            Clock.incident_commander,
            Clock.customer_silence,
        ):
            self.stop(clock, f"ticket closed: {reason}")

    def reconcile(self) -> None:
        """Every response the policy says is owed has a clock running for it.

        A severity change can bring a target the old severity lacked; a first response given by
        asking the customer starts the cadence too. Derived from `first_response_owed` and
        `cadence_owed`, which read only the state and the policy."""
        s = self.s
        for clock, owed in (
            (Clock.first_response, first_response_owed(s)),
            (Clock.next_update, cadence_owed(s)),
        ):
            if not owed or s.sla.target(clock) is None:
                continue
            if self.active(clock) is not None or unanswered_breach(s, clock) is not None:
                continue
            cycle = self.start(clock, self.now)
            if cycle is not None and clock == Clock.next_update and waiting_pauses_cadence(s):
                cycle.status = CycleStatus.paused
                cycle.paused.append(Pause(start=self.now))


# -- reading the state (pure helpers shared with the shell and the tests) ----------------------
def find_cycle(s: TicketState, clock: Clock, number: int) -> ClockCycle | None:
    for c in reversed(s.cycles):
        if c.clock == clock and c.cycle == number:
            return c
    return None


def active_cycle(s: TicketState, clock: Clock) -> ClockCycle | None:
    for c in reversed(s.cycles):
        if c.clock == clock and c.active:
            return c
    return None


def latest_cycle(s: TicketState, clock: Clock) -> ClockCycle | None:
    for c in reversed(s.cycles):
        if c.clock == clock:
            return c
    return None


def unanswered_breach(s: TicketState, clock: Clock) -> ClockCycle | None:
    """The latest cycle of `clock` if it breached and nobody has answered since."""
    c = latest_cycle(s, clock)
    if c is not None and c.status == CycleStatus.breached and c.answered_at is None:
        return c
    return None


def waiting_pauses_cadence(s: TicketState) -> bool:
    return (
        s.status == TicketStatus.waiting_on_customer
        and s.sla.lifecycle.next_update_pauses_while_waiting
    )


def first_response_owed(s: TicketState) -> bool:
    """A new or reopened ticket nobody has answered yet (intake complete, not closed)."""
    return s.first_response_at is None and s.status not in (
        TicketStatus.closed,
        TicketStatus.intake_incomplete,
    )


def cadence_owed(s: TicketState) -> bool:
    """The update cadence is in force and not suspended by waiting on the customer."""
    return s.cadence_on and not waiting_pauses_cadence(s)


def missing_intake(sla: ResolvedSla, intake: dict[str, str]) -> list[str]:
    return [f for f in sla.intake_required if not str(intake.get(f, "")).strip()]


def reopen_deadline(s: TicketState) -> datetime | None:
    window = s.sla.reopen_window
    since = s.resolved_at or s.closed_at
    if window is None or since is None:
        return None
    return since + window


def settled(s: TicketState) -> bool:
    """Every running cycle has its current deadline, every ended one its measure."""
    return all(
        (c.computed_revision == c.revision) if c.active else c.business_used is not None
        for c in s.cycles
    )


def next_event(c: ClockCycle) -> tuple[datetime, WarningRecord | None]:
    """The instant the cycle's timer waits for: its next unsent warning, or its deadline."""
    assert c.due_at is not None
    for w in c.warnings:
        if w.sent_at is None and not w.skipped and w.at < c.due_at:
            return w.at, w
    return c.due_at, None


def deadline_request(s: TicketState, c: ClockCycle, now: datetime, purpose: str) -> DeadlineRequest:
    """What the `compute_deadline` activity is asked for one cycle."""
    return DeadlineRequest(
        sla=s.sla,
        clock=c.clock,
        severity=c.severity,
        started_at=c.started_at,
        paused=c.paused,
        eta=c.eta,
        now=now,
        purpose=purpose,
        outcome=None if c.active else c.status.value,
    )


def new_state(inp: TicketInput) -> TicketState:
    return TicketState(
        key=inp.key,
        sla=inp.sla,
        customer=inp.customer,
        opened_at=inp.opened_at,
        subject=inp.subject,
        channel=inp.channel,
        product=inp.product,
        intake=dict(inp.intake),
    )


def copy_state(s: TicketState) -> TicketState:
    """A copy to work on: cycles deep-copied (they change), the frozen snapshot and the
    append-only ledger shared (events are never edited once appended)."""
    return s.model_copy(
        update={
            "cycles": [c.model_copy(deep=True) for c in s.cycles],
            "events": list(s.events),
            "intake": dict(s.intake),
            "applied_event_ids": list(s.applied_event_ids),
        }
    )


def check_duplicate_event(s: TicketState, event_id: str | None) -> None:
    """A source event the ticket applied recently is refused, whatever it asks: its redelivery
    changes nothing (the state, the ledger and, being refused by the Update's validator, the
    workflow's history stay as they were)."""
    if event_id is not None and event_id in s.applied_event_ids:
        raise Refused(
            DUPLICATE_EVENT,
            f"duplicate event {event_id}: already applied to ticket {s.key}; nothing changes",
        )


def remember_event(s: TicketState, event_id: str | None) -> None:
    """Record an applied action's source event id (the oldest beyond the bound is forgotten)."""
    if event_id is None:
        return
    s.applied_event_ids.append(event_id)
    if len(s.applied_event_ids) > MAX_APPLIED_EVENT_IDS:
        del s.applied_event_ids[: len(s.applied_event_ids) - MAX_APPLIED_EVENT_IDS]


def append_event(
    s: TicketState,
    now: datetime,
    action: str,
    actor: str | None,
    via: str,
    accepted: bool = True,
    detail: str | None = None,
) -> None:
    s.events.append(
        LedgerEvent(
            at=now,
            action=action,
            actor=actor,
            via=via,
            accepted=accepted,
            detail=_truncate(detail),
        )
    )
    if len(s.events) > MAX_LEDGER_EVENTS:
        del s.events[: len(s.events) - MAX_LEDGER_EVENTS]


def trim(s: TicketState) -> None:
    """Keep the carried state bounded: the newest ENDED_CYCLES_KEPT ended (and measured) cycles
    of each clock, every running one and every one still being measured."""
    kept: dict[Clock, int] = {}
    out: list[ClockCycle] = []
    for c in reversed(s.cycles):
        if c.active or c.business_used is None:
            out.append(c)
            continue
        n = kept.get(c.clock, 0)
        if n < ENDED_CYCLES_KEPT or c is latest_cycle(s, c.clock):
            kept[c.clock] = n + 1
            out.append(c)
    if len(out) != len(s.cycles):
        s.cycles = list(reversed(out))


def _truncate(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_DETAIL:
        return text
    return text[: MAX_DETAIL - 3] + "..."


def _duration_text(d: timedelta | None) -> str:
    if d is None:
        return "unknown time"
    seconds = int(d.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


# -- checks and effects of each agent action -----------------------------------------------------
def _check_open(s: TicketState) -> None:
    if s.status == TicketStatus.closed:
        raise Refused("TicketClosed", f"ticket {s.key} is closed; reopen it first")


def _check_intake(s: TicketState) -> None:
    if s.status == TicketStatus.intake_incomplete:
        raise Refused(
            "IntakeIncomplete", "ticket intake is incomplete: complete it first (no SLA runs yet)"
        )


def _check_eta(s: TicketState, eta: datetime | None, now: datetime) -> None:
    terms = s.sla.terms()
    if eta is None:
        if terms.eta_required and s.status != TicketStatus.resolved:
            raise Refused(
                "EtaRequired",
                f"next_update_eta: {terms.label} responses must promise the next update "
                f"({s.sla.policy_name})",
            )
        return
    if eta <= now:
        raise Refused("InvalidEta", "next_update_eta: must be in the future")


def check_acknowledge(s: TicketState, a: Acknowledge, now: datetime) -> None:
    _check_open(s)
    _check_intake(s)
    if s.first_response_at is not None:
        raise Refused(
            "AlreadyAcknowledged",
            f"first response already given at {s.first_response_at.isoformat()}; "
            "post an update instead",
        )
    _check_eta(s, a.next_update_eta, now)


def apply_acknowledge(x: Ctx, a: Acknowledge) -> None:
    x.public_response(a.next_update_eta, f"acknowledged by {a.actor}")


def check_agent_update(s: TicketState, a: AgentUpdate, now: datetime) -> None:
    _check_open(s)
    _check_intake(s)
    _check_eta(s, a.next_update_eta, now)


def apply_agent_update(x: Ctx, a: AgentUpdate) -> None:
    x.public_response(a.next_update_eta, f"update by {a.actor}")


def check_request_customer_info(s: TicketState, a: RequestCustomerInfo, now: datetime) -> None:
    _check_open(s)
    if s.status in (TicketStatus.resolved, TicketStatus.intake_incomplete):
        raise Refused("InvalidState", f"cannot wait on the customer while {s.status.value}")


def apply_request_customer_info(x: Ctx, a: RequestCustomerInfo) -> None:
    s = x.s
    x.give_first_response(f"asked customer ({a.actor})")
    s.status = TicketStatus.waiting_on_customer
    if s.mitigated_at is None:
        s.cadence_on = True
    if s.sla.lifecycle.next_update_pauses_while_waiting:
        x.pause(Clock.next_update)
    x.stop(Clock.customer_silence, "asked again")
    x.start(Clock.customer_silence, x.now)


def check_customer_reply(s: TicketState, a: CustomerReply, now: datetime) -> None:
    _check_open(s)


def apply_customer_reply(x: Ctx, a: CustomerReply) -> None:
    s = x.s
    if s.status == TicketStatus.waiting_on_customer:
        s.status = TicketStatus.in_progress if s.mitigated_at is None else TicketStatus.mitigated
    x.resume(Clock.next_update)
    x.meet(Clock.customer_silence, f"customer replied ({a.actor})")


def check_complete_intake(s: TicketState, a: CompleteIntake, now: datetime) -> None:
    _check_open(s)
    if s.status != TicketStatus.intake_incomplete:
        raise Refused("IntakeAlreadyComplete", "ticket intake is already complete")
    missing = missing_intake(s.sla, {**s.intake, **a.fields})
    if missing:
        raise Refused("IntakeIncomplete", "fields: still missing " + ", ".join(missing))


def apply_complete_intake(x: Ctx, a: CompleteIntake) -> None:
    s = x.s
    s.intake.update(a.fields)
    s.status = TicketStatus.awaiting_first_response
    x.start(Clock.first_response, x.now)


def check_engineering_ack(s: TicketState, a: EngineeringAck, now: datetime) -> None:
    _check_open(s)
    if s.engineering_ack_at is not None:
        raise Refused("AlreadyAcknowledged", "engineering already acknowledged this ticket")


def apply_engineering_ack(x: Ctx, a: EngineeringAck) -> None:
    x.s.engineering_ack_at = x.now
    x.start(Clock.incident_commander, x.now)


def check_assign_incident_commander(
    s: TicketState, a: AssignIncidentCommander, now: datetime
) -> None:
    _check_open(s)


def apply_assign_incident_commander(x: Ctx, a: AssignIncidentCommander) -> None:
    x.s.incident_commander = a.commander
    x.meet(Clock.incident_commander, f"{a.commander} assigned by {a.actor}")


def check_change_severity(s: TicketState, a: ChangeSeverity, now: datetime) -> None:
    _check_open(s)
    sla = s.sla
    wanted = sla.find_severity(a.severity)
    if wanted is None:
        labels = ", ".join(t.label for t in sla.severities)
        raise Refused("UnknownSeverity", f"severity: {a.severity!r} is not one of {labels}")
    terms = sla.terms(wanted)
    if not terms.entitled:
        raise Refused(
            "NotEntitled",
            f"severity: {terms.not_entitled_reason or terms.label + ' is not entitled'}",
        )
    if wanted == sla.severity:
        raise Refused("SeverityUnchanged", f"severity: already {terms.label}")


def apply_change_severity(x: Ctx, a: ChangeSeverity) -> None:
    s = x.s
    wanted = s.sla.find_severity(a.severity)
    assert wanted is not None
    s.sla = s.sla.with_severity(wanted)
    for c in s.cycles:
        if not c.active:
            continue
        if s.sla.target(c.clock) is None:
            x.end(c, CycleStatus.stopped, f"severity changed to {s.sla.terms().label}: no target")
            continue
        # Recompute from the cycle's original start, keeping elapsed (business) time.
        c.severity = wanted
        x.recompute(c)


def check_mitigate(s: TicketState, a: Mitigate, now: datetime) -> None:
    _check_open(s)
    if s.mitigated_at is not None or s.status == TicketStatus.resolved:
        raise Refused("AlreadyMitigated", "ticket is already mitigated")


def apply_mitigate(x: Ctx, a: Mitigate) -> None:
    s = x.s
    s.mitigated_at = x.now
    s.cadence_on = False
    if s.status != TicketStatus.waiting_on_customer:
        s.status = TicketStatus.mitigated
    x.stop(Clock.next_update, "mitigated")
    if s.sla.lifecycle.review_starts_at == "mitigation":
        x.start_review_clock()


def check_resolve(s: TicketState, a: Resolve, now: datetime) -> None:
    _check_open(s)
    if s.status == TicketStatus.resolved:
        raise Refused("AlreadyResolved", "ticket is already resolved")
    if s.status == TicketStatus.intake_incomplete:
        raise Refused("IntakeIncomplete", "ticket intake is incomplete: complete it first")


def apply_resolve(x: Ctx, a: Resolve) -> None:
    s = x.s
    x.give_first_response(f"final solution by {a.actor}")
    s.status = TicketStatus.resolved
    s.resolved_at = x.now
    s.cadence_on = False
    if s.mitigated_at is None:
        s.mitigated_at = s.resolved_at
    x.stop(Clock.next_update, "resolved")
    x.stop(Clock.customer_silence, "resolved")
    x.start_review_clock()
    x.stop(Clock.escalation_window, "resolved again")
    x.start(Clock.escalation_window, x.now)


def check_reopen(s: TicketState, a: Reopen, now: datetime) -> None:
    if s.status not in (TicketStatus.resolved, TicketStatus.closed):
        raise Refused(
            "NotResolved", f"only a resolved or closed ticket can be reopened ({s.status.value})"
        )
    deadline = reopen_deadline(s)
    if deadline is not None and now > deadline:
        raise Refused("ReopenWindowClosed", f"the reopen window ended {deadline.isoformat()}")


def apply_reopen(x: Ctx, a: Reopen) -> None:
    """A reopen restarts what the policy's `lifecycle.reopen_restarts` names."""
    s = x.s
    s.status = TicketStatus.in_progress
    s.resolved_at = None
    s.closed_at = None
    s.mitigated_at = None
    s.cadence_on = False
    x.stop(Clock.escalation_window, "reopened")
    restarts = s.sla.lifecycle.reopen_restarts
    if s.first_response_at is None:
        # Never answered (closed unanswered): the first response is still owed, whatever the
        # policy says a reopen restarts.
        s.status = TicketStatus.awaiting_first_response
        x.start(Clock.first_response, x.now)
    elif restarts == Clock.first_response:
        s.first_response_at = None
        s.status = TicketStatus.awaiting_first_response
        x.start(Clock.first_response, x.now)
    elif restarts == Clock.next_update:
        s.cadence_on = True
        x.start(Clock.next_update, x.now)
    x.event(
        "reopen_restarts",
        None,
        "system",
        detail=f"{restarts or 'no clock'} ({s.sla.lifecycle.reopen_restarts_source})",
    )


def check_close(s: TicketState, a: Close, now: datetime) -> None:
    _check_open(s)


def apply_close(x: Ctx, a: Close) -> None:
    x.close(a.reason or f"closed by {a.actor}")


def check_open_review(s: TicketState, a: OpenReview, now: datetime) -> None:
    if s.review_opened_at is not None:
        raise Refused("ReviewAlreadyOpen", "the post-incident review is already open")


def apply_open_review(x: Ctx, a: OpenReview) -> None:
    x.s.review_opened_at = x.now
    x.meet(Clock.post_incident_review, f"review opened by {a.actor}")


def check_complete_review(s: TicketState, a: CompleteReview, now: datetime) -> None:
    if s.review_opened_at is None:
        raise Refused("ReviewNotOpen", "open the post-incident review first")
    if s.review_completed_at is not None:
        raise Refused("ReviewAlreadyComplete", "the post-incident review is already complete")


def apply_complete_review(x: Ctx, a: CompleteReview) -> None:
    x.s.review_completed_at = x.now


def check_escalate(s: TicketState, a: Escalate, now: datetime) -> None:
    sla = s.sla
    window_in_policy = any(Clock.escalation_window in t.targets for t in sla.severities)
    if not window_in_policy:
        _check_open(s)
        return
    if sla.target(Clock.escalation_window) is None:
        raise Refused(
            "NotEntitled",
            f"{sla.terms().label} tickets cannot be escalated under {sla.policy_name}",
        )
    if active_cycle(s, Clock.escalation_window) is None:
        raise Refused(
            "EscalationWindowClosed",
            "escalation is accepted only inside the escalation window after the final response",
        )


def apply_escalate(x: Ctx, a: Escalate) -> None:
    s = x.s
    s.escalations += 1
    cycle = x.active(Clock.escalation_window) or x.active(Clock.first_response)
    if cycle is None and s.cycles:
        cycle = s.cycles[-1]
    if cycle is not None:
        x.notify(cycle, "escalation", suffix=str(s.escalations), detail=a.reason)


# -- clock inputs --------------------------------------------------------------------------------
def apply_open(x: Ctx) -> None:
    s = x.s
    missing = missing_intake(s.sla, s.intake)
    x.event("opened", None, "system", detail=f"policy {s.sla.policy_id} {s.sla.policy_version}")
    if s.sla.cap_reason:
        x.event("severity_capped", None, "system", detail=s.sla.cap_reason)
    if missing:
        s.status = TicketStatus.intake_incomplete
        x.event("intake_incomplete", None, "system", detail="missing: " + ", ".join(missing))
        return
    s.status = TicketStatus.awaiting_first_response
    x.start(Clock.first_response, s.opened_at)


def apply_continued(x: Ctx) -> None:
    s = x.s
    s.runs += 1
    if s.first_response_at is None:
        # A state carried from before `first_response_at` existed: a met first_response counts.
        for c in s.cycles:
            if c.clock == Clock.first_response and c.status == CycleStatus.met:
                s.first_response_at = c.met_at


def apply_warning(x: Ctx, inp: WarningFired) -> None:
    c = x.find(inp.clock, inp.cycle)
    if c is None or not c.active:
        return
    for i, w in enumerate(c.warnings):
        if w.label == inp.label and w.sent_at is None:
            w.sent_at = x.now
            x.notify(
                c,
                "reminder" if c.clock == Clock.customer_silence else "warning",
                suffix=str(i + 1),
                detail=w.label,
            )
            return


def apply_due(x: Ctx, inp: DueFired) -> None:
    c = x.find(inp.clock, inp.cycle)
    if c is None or not c.active:
        return
    if c.clock == Clock.escalation_window:
        x.end(c, CycleStatus.expired, "escalation window ended")
        c.ended_at = c.due_at
        x.event("escalation_window_closed", None, "timer")
        return
    if c.clock == Clock.customer_silence:
        x.end(c, CycleStatus.expired, "customer silent: ticket auto-closed")
        x.notify(c, "auto_close")
        x.event("auto_close", None, "timer", detail=f"no reply by {c.due_text}")
        x.close("customer silence")
        return
    x.breach(c)


def apply_deadline(x: Ctx, inp: DeadlineComputed) -> None:
    c = x.find(inp.clock, inp.cycle)
    if c is None or not c.active or c.revision != inp.revision:
        return
    result, now = inp.result, inp.computed_at
    c.due_at = result.due_at
    c.due_local = result.due_local
    c.due_text = result.due_text
    c.target_text = result.target_text
    c.business = result.business
    c.holidays_in_span = result.holidays_in_span
    c.explanation = result.explanation
    if c.eta is not None and result.due_at is not None and c.eta > result.due_at:
        note = (
            f"promised ETA {c.eta.isoformat()} is later than the policy allows "
            f"({c.target_text}): the policy's deadline {result.due_text} stands"
        )
        if c.eta_note != note:
            c.eta_note = note
            x.event("eta_beyond_policy", None, "system", detail=f"{c.clock}: {note}")
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
    c.computed_revision = inp.revision


def apply_measured(x: Ctx, inp: Measured) -> None:
    c = x.find(inp.clock, inp.cycle)
    if c is not None and c.business_used is None:
        c.business_used = inp.used


def apply_delivered(x: Ctx, inp: Delivered) -> None:
    for c in reversed(x.s.cycles):
        for n in c.notifications:
            if n.idempotency_key == inp.idempotency_key:
                n.outcome = inp.outcome
                n.deliveries = list(inp.deliveries)
                return
