"""Payloads of the ticket workflow: its input, every action, its state and the deadline results.

Pure pydantic (passed through the workflow sandbox). The API reuses the action models as request
bodies, so a field named here is a field named in the HTTP API.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from policies.customer import Customer
from policies.snapshot import Clock, ResolvedSla


class _Model(BaseModel):
    # Durations travel as seconds (a number): ISO 8601 durations with fractions are not valid
    # OpenAPI `format: duration` values, and seconds are what dashboards sum anyway.
    model_config = ConfigDict(extra="forbid", ser_json_timedelta="float")


# -- input ---------------------------------------------------------------------------------------
class TicketInput(_Model):
    key: str
    sla: ResolvedSla
    customer: Customer = Customer()
    opened_at: AwareDatetime
    subject: str | None = Field(None, max_length=200)
    channel: str | None = None
    product: str | None = None
    type: Literal["incident", "request"] | None = None  # absent: incident (sla.ticket_type)
    intake: dict[str, str] = Field(default_factory=dict)
    # Test knob: continue-as-new once history passes this many events (None: SDK suggestion and
    # the default bound).
    continue_as_new_after_events: int | None = None
    # Carried across continue-as-new; never set by callers.
    state: TicketState | None = None


# -- actions (Update and Signal payloads; also the HTTP request bodies) ---------------------------
EVENT_ID_MAX_CHARS = 256


class Action(_Model):
    actor: str = Field(min_length=1, max_length=200, examples=["agent:jane"])
    event_id: str | None = Field(
        None,
        min_length=1,
        max_length=EVENT_ID_MAX_CHARS,
        description="The id of the event this action comes from (a helpdesk's webhook event). "
        "An id the ticket applied recently (its last 256) is refused as `DuplicateEvent`, "
        "so a redelivered event changes nothing, even after later events.",
        examples=["zendesk:01HQ8Z6Y1V2N3K4M5P6R7S8T9V"],
    )


class Acknowledge(Action):
    message: str | None = Field(None, max_length=2000)
    next_update_eta: AwareDatetime | None = Field(
        None,
        description="When the customer hears next (required on Sev1/2 where the policy says so).",
    )


class AgentUpdate(Acknowledge):
    pass


class RequestCustomerInfo(Action):
    message: str | None = Field(None, max_length=2000)


class CustomerReply(Action):
    message: str | None = Field(None, max_length=2000)


class CompleteIntake(Action):
    fields: dict[str, str] = Field(default_factory=dict, description="The missing intake fields.")


class EngineeringAck(Action):
    note: str | None = Field(None, max_length=2000)


class AssignIncidentCommander(Action):
    commander: str = Field(min_length=1, max_length=200)


class ChangeSeverity(Action):
    severity: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=2000)


class Mitigate(Action):
    note: str | None = Field(None, max_length=2000)


MigrateMode = Literal["from_now", "from_original_start"]


class Migrate(Action):
    """Move the ticket to another version of its policy (issue 17). The API resolves `sla` (the
    workflow cannot read the catalogue) from the ticket's own resolution inputs at `to_version`.
    `from_original_start`: every running clock keeps its start and pauses and is recomputed under
    the new targets; `from_now`: every running clock counts afresh from the migration."""

    to_version: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    mode: MigrateMode
    sla: ResolvedSla


class Resolve(Action):
    solution: str = Field(min_length=1, max_length=5000, description="The final solution.")


class Reopen(Action):
    reason: str = Field(min_length=1, max_length=2000)


class Close(Action):
    reason: str | None = Field(None, max_length=2000)


class OpenReview(Action):
    link: str | None = Field(None, max_length=2000)


class CompleteReview(Action):
    link: str | None = Field(None, max_length=2000)


class Escalate(Action):
    reason: str = Field(min_length=1, max_length=2000)


# -- state ---------------------------------------------------------------------------------------
class TicketStatus(StrEnum):
    intake_incomplete = "intake_incomplete"
    awaiting_first_response = "awaiting_first_response"
    in_progress = "in_progress"
    waiting_on_customer = "waiting_on_customer"
    mitigated = "mitigated"
    resolved = "resolved"
    closed = "closed"


class CycleStatus(StrEnum):
    running = "running"
    paused = "paused"
    met = "met"
    breached = "breached"
    stopped = (
        "stopped"  # ended without meeting (mitigation stops next_update, a reply stops silence)
    )
    expired = "expired"  # escalation_window: the door closed; no notification


class Pause(_Model):
    start: datetime
    end: datetime | None = None


class WarningRecord(_Model):
    at: datetime
    label: str
    text: str = ""
    sent_at: datetime | None = None
    skipped: bool = False  # already past when the deadline was (re)computed after a breach


class Notification(_Model):
    event: str
    idempotency_key: str
    at: datetime
    outcome: str = "pending"  # pending | delivered | partly_delivered | failed | no_route
    deliveries: list[str] = Field(default_factory=list)  # "webhook: delivered (200)", ...


class ClockCycle(_Model):
    """One run of one clock: the ledger row that tells an operator why a deadline is what it is."""

    clock: Clock
    cycle: int
    severity: str
    started_at: datetime
    status: CycleStatus = CycleStatus.running
    due_at: datetime | None = None
    due_local: str | None = None  # the calendar's zone, ISO with offset, formatted by the activity
    due_text: str | None = None  # "Mon 23 Nov 09:00 America/Chicago"
    target_text: str = ""
    business: bool = False
    eta: datetime | None = None  # a promised next-update ETA (the deadline when it is earlier)
    # Set when the promised ETA was later than the policy's own deadline: the policy's bound won.
    eta_note: str | None = None
    paused: list[Pause] = Field(default_factory=list)
    warnings: list[WarningRecord] = Field(default_factory=list)
    met_at: datetime | None = None
    breached_at: datetime | None = None
    # A breached cycle answered afterwards: when the answer came and how late it was. The breach
    # stays recorded (status `breached`); the answer is recorded too.
    answered_at: datetime | None = None
    late_by: timedelta | None = None
    ended_at: datetime | None = None
    ended_reason: str | None = None
    business_used: timedelta | None = None
    holidays_in_span: list[str] = Field(default_factory=list)
    explanation: str = ""
    notifications: list[Notification] = Field(default_factory=list)
    # Set by a migration until the recomputed deadline lands (the ledger then records old -> new).
    migrated_from: str | None = None
    # Bookkeeping: a change bumps `revision`; the clock's task recomputes the deadline to match.
    revision: int = 0
    computed_revision: int = -1

    @property
    def active(self) -> bool:
        return self.status in (CycleStatus.running, CycleStatus.paused)


class LedgerEvent(_Model):
    at: datetime
    action: str
    actor: str | None = None
    via: str = "update"  # update | signal | timer | system
    accepted: bool = True
    detail: str | None = None


class TicketState(_Model):
    key: str
    sla: ResolvedSla
    customer: Customer
    opened_at: datetime
    subject: str | None = None
    channel: str | None = None
    product: str | None = None
    intake: dict[str, str] = Field(default_factory=dict)
    status: TicketStatus = TicketStatus.awaiting_first_response
    cycles: list[ClockCycle] = Field(default_factory=list)
    events: list[LedgerEvent] = Field(default_factory=list)
    incident_commander: str | None = None
    engineering_ack_at: datetime | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    review_opened_at: datetime | None = None
    review_completed_at: datetime | None = None
    escalations: int = 0
    runs: int = 1  # how many workflow runs (continue-as-new) this ticket has had
    # When the (current) first response was given; a reopen that restarts first_response clears
    # it. `acknowledge` is accepted exactly while this is None, breached or not.
    first_response_at: datetime | None = None
    # The update cadence is in force (a public response given, not mitigated, resolved or closed).
    cadence_on: bool = False
    # The last next-update ETA an agent promised (recorded even when no cadence runs).
    promised_update_at: datetime | None = None
    # The source event ids (`Action.event_id`) of the latest applied actions, oldest first, at
    # most rules.MAX_APPLIED_EVENT_IDS: a repeat is refused as `DuplicateEvent`. Part of the
    # state, so it survives continue-as-new (absent from older states: empty).
    applied_event_ids: list[str] = Field(default_factory=list)


class TicketView(_Model):
    """What the `status` query, every Update and `GET /v1/tickets/{key}` return."""

    key: str
    workflow_id: str
    policy: str
    policy_version: str
    tier: str
    severity: str
    severity_label: str
    requested_severity: str
    cap_reason: str | None
    status: TicketStatus
    opened_at: datetime
    subject: str | None
    calendar: str
    timezone: str
    breached: bool
    breached_clocks: list[str]
    next_deadline: datetime | None
    next_deadline_clock: str | None
    clocks: list[ClockCycle]
    events: list[LedgerEvent]
    incident_commander: str | None = None
    runs: int = 1
    first_response_at: datetime | None = None
    promised_update_at: datetime | None = None


class Explanation(_Model):
    """The `explain` query: which inputs produced one clock's current deadline."""

    clock: Clock
    cycle: int | None
    status: str | None
    due_at: datetime | None
    due_text: str | None
    target: str | None
    business: bool
    calendar: str
    timezone: str
    hours: dict[str, Any]
    holidays_in_span: list[str]
    holiday_source: str
    severity: str
    severity_label: str
    cap_reason: str | None
    paused: list[Pause]
    eta: datetime | None
    policy: str
    policy_version: str
    seed: str
    source: str | None
    text: str


# -- deadline activity I/O -----------------------------------------------------------------------
class DeadlineRequest(_Model):
    sla: ResolvedSla
    clock: Clock
    severity: str
    started_at: datetime
    paused: list[Pause] = Field(default_factory=list)
    eta: datetime | None = None
    now: datetime  # workflow.now(), so "already past" is judged at a recorded instant
    # Why the workflow asks: "start" (first computation of a cycle), "recompute" (pause, resume,
    # severity change) or "measure" (the cycle ended with `outcome`). Metrics are recorded by the
    # activity from these, never by workflow code (which replays).
    purpose: str = "start"
    outcome: str | None = None


class WarningResult(_Model):
    at: datetime
    label: str
    text: str  # "Mon 23 Nov 07:00 America/Chicago"


class DeadlineResult(_Model):
    due_at: datetime | None
    due_local: str | None
    due_text: str | None
    warnings: list[WarningResult]
    target_text: str
    business: bool
    used: timedelta  # clock time consumed from start until `now`
    holidays_in_span: list[str] = Field(default_factory=list)  # calendar holidays start..due
    explanation: str = ""  # one paragraph: calendar, holidays, severity, pauses, policy version


class NotificationRequest(_Model):
    """What the notify activity receives. No endpoint or secret: those are worker settings."""

    workflow_id: str
    ticket_key: str
    policy: str
    tier: str
    severity: str
    severity_label: str
    clock: str
    cycle: int
    event: str  # warning | breach | met | reminder | auto_close | escalation | page
    due_at: datetime | None
    due_local: str | None
    due_text: str | None = None  # "Mon 23 Nov 09:00 America/Chicago", for people
    idempotency_key: str
    occurred_at: datetime
    page_oncall: bool = False
    detail: str | None = None
    subject: str | None = None


class DeliveryRequest(_Model):
    """One notification to one destination named by the router ("webhook", "slack:escalation")."""

    destination: str
    notification: NotificationRequest


class DeliveryResult(_Model):
    destination: str
    outcome: str  # delivered | failed
    status: int | None = None  # HTTP status or SMTP reply code
    detail: str | None = None


TicketInput.model_rebuild()
