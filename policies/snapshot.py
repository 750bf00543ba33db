"""`ResolvedSla`: the frozen, JSON-serialisable SLA snapshot a running ticket keeps.

A ticket resolves its policy once, at start, into this snapshot: effective severity (and why it was
capped), the calendar with its holiday dates materialised, and every clock's target for every
severity of the ticket's tier (so a severity change never re-reads the catalogue). Editing a policy
file or upgrading `holidays`/`tzdata` therefore never moves a running ticket's deadlines.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.calendar import BusinessCalendar, cached_calendar
from policies.durations import Unit


def name_key(text: str) -> str:
    """How a severity name is compared: surrounding space and case ignored, nothing else.

    One rule for opening a ticket (`Policy.find_severity`) and changing its severity
    (`ResolvedSla.find_severity`): an id, label or alias matches as written, so `-1` or `2-`
    never pass for `1` or `2`.
    """
    return text.strip().casefold()


class Clock(StrEnum):
    """Every SLA clock a ticket can carry (see shared/design/policy-reading.md)."""

    first_response = "first_response"
    next_update = "next_update"
    incident_commander = "incident_commander"
    customer_silence = "customer_silence"
    post_incident_review = "post_incident_review"
    escalation_window = "escalation_window"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WarningPoint(_Frozen):
    """A point before the deadline: a fraction of the target, or an offset before the end.

    Exactly one of `fraction` (0 < f < 1) and `before` (measured in the clock's own units:
    business time for a business clock) is set.
    """

    fraction: float | None = None
    before: timedelta | None = None
    label: str = Field(description='As written in the policy, e.g. "75%" or "30m before".')


class Target(_Frozen):
    """One clock's target for one severity, resolved to an amount of time in its `unit`."""

    clock: Clock
    amount: timedelta = Field(
        description="Time to wait in `unit`: open time (business days already converted), real"
        " time, or whole days on the local clock."
    )
    business: bool = Field(description="True: counts only while the calendar is open. False: 24x7.")
    unit: Unit = Field(
        "elapsed",
        description="business: open time on the calendar; elapsed: real time; calendar_days: whole"
        " days on the local clock of the calendar's zone (DST-proof).",
    )
    calendar: str | None = Field(
        None,
        description="The calendar a business target counts on; None: the ticket's own calendar.",
    )
    text: str = Field(description='As written in the policy, e.g. "8 business hours" or "60m".')
    warnings: tuple[WarningPoint, ...] = ()
    source: str = Field(description="The clause this target comes from.")

    @model_validator(mode="before")
    @classmethod
    def _unit_of_old_snapshots(cls, data: Any) -> Any:
        # Snapshots recorded before `unit` existed: business or elapsed, exactly as they ran.
        if isinstance(data, dict) and "unit" not in data:
            return {**data, "unit": "business" if data.get("business") else "elapsed"}
        return data


class SeverityTerms(_Frozen):
    """What one severity of the ticket's tier is entitled to."""

    severity: str = Field(description="Canonical severity id, e.g. 'sev1' or 'p2'.")
    label: str = Field(description="How people say it: 'Sev1', 'P2', 'Urgent'.")
    aliases: tuple[str, ...] = Field((), description="Other names: '1', 'urgent', 'critical'.")
    rank: int | None = Field(
        None,
        description="Common urgency rank 1 (most urgent) .. 4 across policies; None in snapshots"
        " recorded before ranks existed (read it from the catalogue then).",
    )
    entitled: bool = True
    not_entitled_reason: str | None = None
    targets: dict[Clock, Target] = Field(default_factory=dict)
    eta_required: bool = Field(False, description="Agent updates must carry a next-update ETA.")
    page_oncall: bool = False


class CalendarSnapshot(_Frozen):
    """A calendar spec with holidays materialised as explicit local dates."""

    name: str
    timezone: str
    hours: dict[str, tuple[tuple[str, str], ...]]
    holidays: tuple[date, ...] = ()
    holiday_source: str = Field(
        "", description="Where the dates came from, e.g. 'holidays 0.109 US-IL'."
    )
    business_day: timedelta = Field(description="Length of one business day on this calendar.")

    def to_spec(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "hours": {day: [list(iv) for iv in ivs] for day, ivs in self.hours.items()},
            "holidays": [d.isoformat() for d in self.holidays],
            "business_day": int(self.business_day.total_seconds()),
        }


class LifecycleRules(_Frozen):
    """Rules of a ticket's life that a policy decides (never the workflow's code).

    The defaults are the behaviour of every ticket started before these fields existed, so a
    recorded snapshot without `lifecycle` replays exactly as it ran. Each catalogue file sets
    every value with the clause it comes from, or `ASSUMPTION: <why>`.
    """

    reopen_restarts: Clock | None = Field(
        None,
        description="The clock a reopen starts afresh: first_response, next_update or none.",
    )
    reopen_restarts_source: str = "ASSUMPTION: a reopen restarts no clock (the behaviour before"
    " the policy said so)"
    next_update_pauses_while_waiting: bool = Field(
        True, description="Does the update cadence pause while waiting on the customer?"
    )
    next_update_pauses_source: str = "ASSUMPTION: no update is owed while the customer holds the"
    " ticket (the behaviour before the policy said so)"
    review_starts_at: Literal["mitigation", "resolution"] = Field(
        "mitigation",
        description="When the post-incident review clock starts (resolution counts as mitigation"
        " when there was none).",
    )
    review_starts_source: str = "ASSUMPTION: the review follows mitigation (the behaviour before"
    " the policy said so)"

    @field_validator("reopen_restarts", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        # TOML has no null: a catalogue file writes "none".
        if isinstance(value, str) and value.strip().lower() in ("none", ""):
            return None
        return value


class WarningInstant(_Frozen):
    at: datetime
    label: str


class Due(_Frozen):
    """A clock's deadline and its warning instants, all aware datetimes in the calendar's zone.

    `due_at` is None while the clock is paused (an open pause interval)."""

    due_at: datetime | None
    warnings: tuple[WarningInstant, ...] = ()


class ResolvedSla(_Frozen):
    policy_id: str
    policy_name: str
    policy_version: str = Field(description="The policy's effective date / version string.")
    policy_effective_from: date | None = Field(
        None, description="The day this policy version's meaning took effect."
    )
    seed: str = Field(description="The seed document the policy cites.")
    tier: str
    tier_label: str
    requested_severity: str
    severity: str = Field(description="Effective canonical severity after entitlement caps.")
    cap_reason: str | None = None
    ticket_type: str = Field("incident", description="incident | request (absent: incident).")
    exempt_reason: str | None = Field(
        None,
        description="Why this ticket carries no targets at all (a request, a channel other than"
        " a ticket, an excluded product), citing the clause; None: the policy binds it.",
    )
    channel: str | None = None
    product: str | None = None
    customer_timezone: str | None = None
    customer_region: str | None = None
    calendar: CalendarSnapshot
    calendars: dict[str, CalendarSnapshot] = Field(
        default_factory=dict,
        description="Other calendars of the policy that some target counts on, by name.",
    )
    severities: tuple[SeverityTerms, ...] = Field(description="Most severe first, for the tier.")
    intake_required: tuple[str, ...] = ()
    reopen_window: timedelta | None = None
    lifecycle: LifecycleRules = LifecycleRules()

    # -- lookups -------------------------------------------------------------------------------
    def terms(self, severity: str | None = None) -> SeverityTerms:
        wanted = severity or self.severity
        for t in self.severities:
            if t.severity == wanted:
                return t
        raise KeyError(f"severity {wanted!r} is not in policy {self.policy_id!r}")

    def find_severity(self, name: str) -> str | None:
        """The canonical id for a severity id, label or alias (case-insensitive), or None."""
        wanted = name_key(name)
        for t in self.severities:
            if wanted in map(name_key, (t.severity, t.label, *t.aliases)):
                return t.severity
        return None

    def allowed_severities(self) -> str:
        """'sev1 (Sev1, 1, critical), sev2 (...)': what a severity may be written as."""
        return ", ".join(
            f"{t.severity} ({', '.join((t.label, *t.aliases))})" for t in self.severities
        )

    def target(self, clock: Clock, severity: str | None = None) -> Target | None:
        return self.terms(severity).targets.get(clock)

    def with_severity(self, severity: str) -> ResolvedSla:
        """The same snapshot at another (entitled) severity; raises KeyError/ValueError."""
        terms = self.terms(severity)
        if not terms.entitled:
            raise ValueError(terms.not_entitled_reason or f"{terms.label} is not entitled")
        return self.model_copy(update={"severity": severity, "cap_reason": None})

    def business_calendar(self, name: str | None = None) -> BusinessCalendar:
        """The ticket's calendar, or another calendar of the policy a target names."""
        snapshot = self.calendar if name in (None, self.calendar.name) else self.calendars[name]
        return _calendar_for(snapshot.model_dump_json())

    # -- arithmetic ----------------------------------------------------------------------------
    def due(
        self,
        clock: Clock,
        started_at: datetime,
        paused: list[tuple[datetime, datetime | None]] | None = None,
        severity: str | None = None,
    ) -> Due:
        """Deadline and warning instants of `clock` started at `started_at`.

        Paused intervals (half-open, sorted or not) do not count; an open pause (end None) means
        the clock is stopped right now and has no deadline until it resumes.
        """
        target = self.target(clock, severity)
        if target is None:
            raise KeyError(f"clock {clock} has no target at severity {severity or self.severity}")
        zone = self.business_calendar().zone
        due_at = self._instant_after(target, started_at, target.amount, paused or [])
        warnings: list[WarningInstant] = []
        for w in target.warnings:
            used = (
                target.amount * w.fraction
                if w.fraction is not None
                else target.amount - (w.before or timedelta())
            )
            if used <= timedelta():
                continue
            at = self._instant_after(target, started_at, used, paused or [])
            if at is not None:
                warnings.append(WarningInstant(at=at.astimezone(zone), label=w.label))
        return Due(due_at=due_at.astimezone(zone) if due_at else None, warnings=tuple(warnings))

    def used(
        self,
        clock: Clock,
        started_at: datetime,
        until: datetime,
        paused: list[tuple[datetime, datetime | None]] | None = None,
        severity: str | None = None,
    ) -> timedelta:
        """Clock time consumed between `started_at` and `until`, pauses excluded."""
        target = self.target(clock, severity)
        total = self._span(target, started_at, until)
        for p_start, p_end in paused or []:
            lo = max(p_start, started_at)
            hi = min(p_end or until, until)
            if hi > lo:
                total -= self._span(target, lo, hi)
        return total

    def _span(self, target: Target | None, start: datetime, end: datetime) -> timedelta:
        if target is not None and target.unit == "business":
            return self.business_calendar(target.calendar).elapsed(start, end)
        return end - start  # elapsed; calendar days also count real time between two instants

    def _add(self, target: Target, start: datetime, amount: timedelta) -> datetime:
        if target.unit == "business":
            return self.business_calendar(target.calendar).add(start, amount)
        if target.unit == "calendar_days":
            return add_local(start, amount, self.business_calendar().zone)
        return start + amount

    def _instant_after(
        self,
        target: Target,
        started_at: datetime,
        amount: timedelta,
        paused: list[tuple[datetime, datetime | None]],
    ) -> datetime | None:
        remaining = amount
        cursor = started_at
        for p_start, p_end in sorted(paused, key=lambda p: p[0]):
            if p_end is not None and p_end <= cursor:
                continue
            p_start = max(p_start, cursor)
            before_pause = self._span(target, cursor, p_start)
            if before_pause >= remaining:
                break
            remaining -= before_pause
            if p_end is None:
                return None
            cursor = p_end
        return self._add(target, cursor, remaining)


def add_local(start: datetime, amount: timedelta, zone: ZoneInfo) -> datetime:
    """`start` plus `amount` on the local wall clock of `zone` (calendar days survive DST).

    A wall time that a spring-forward skips maps one hour later (the offset before the gap,
    PEP 495 fold=0); a repeated one maps to its first occurrence.
    """
    local = start.astimezone(zone).replace(tzinfo=None) + amount
    return local.replace(tzinfo=zone, fold=0).astimezone(zone)


def _calendar_for(snapshot_json: str) -> BusinessCalendar:
    # Keyed by the snapshot's JSON: building a calendar costs milliseconds, using one microseconds.
    # The cache is bounded in bytes (policies.calendar.cached_calendar).
    return cached_calendar(
        "snapshot:" + snapshot_json,
        lambda: BusinessCalendar.from_spec(
            CalendarSnapshot.model_validate_json(snapshot_json).to_spec()
        ),
    )
