"""Deadline arithmetic for one clock cycle: pure, the function behind `compute_deadline`.

Never imported by the workflow shell (`workflows/ticket.py`): business time runs in the
`compute_deadline` local activity (`activities/deadlines.py`), whose result is recorded in
history. It lives here, beside the rules core, so every caller that replays a ticket's rules
outside Temporal (the what-if engine `workflows/whatif.py`, the migration planner, the property
tests) computes deadlines exactly as the activity does.
"""

from __future__ import annotations

from datetime import date, datetime

from policies.snapshot import ResolvedSla
from workflows.messages import DeadlineRequest, DeadlineResult, WarningResult


def local_text(at: datetime, zone_name: str) -> str:
    """'Mon 23 Nov 09:00 America/Chicago': what people read in summaries and notifications."""
    return f"{at:%a %d %b %H:%M} {zone_name}"


def _holidays_between(sla: ResolvedSla, first: date, last: date) -> list[str]:
    return [d.isoformat() for d in sla.calendar.holidays if first <= d <= last]


def _explain(req: DeadlineRequest, result_due: datetime | None, holidays: list[str]) -> str:
    sla = req.sla
    terms = sla.terms(req.severity)
    target = terms.targets.get(req.clock)
    cal = sla.calendar
    clock_kind = (
        f"business clock on calendar '{cal.name}' ({cal.timezone}, "
        f"{_hours_text(cal.hours)}, business day {cal.business_day})"
        if target and target.business
        else "24x7 clock (every hour counts)"
    )
    parts = [
        f"{req.clock} for {sla.policy_name} {sla.tier_label} {terms.label}: "
        f"target {target.text if target else 'none'} ({target.source if target else '-'}) "
        f"on a {clock_kind}.",
        f"Started {req.started_at.isoformat()}.",
    ]
    if sla.cap_reason and req.severity == sla.severity:
        parts.append(f"Severity capped: {sla.cap_reason}.")
    if req.paused:
        spans = ", ".join(
            f"{p.start.isoformat()} to {p.end.isoformat() if p.end else 'now (paused)'}"
            for p in req.paused
        )
        parts.append(f"Paused (not counted): {spans}.")
    if target and target.business:
        parts.append(
            f"Holidays in span: {', '.join(holidays) if holidays else 'none'} "
            f"(source: {cal.holiday_source or 'explicit dates'})."
        )
    if req.eta is not None:
        parts.append(f"Agent promised the next update by {req.eta.isoformat()}.")
    due_text = result_due.isoformat() if result_due else "none while paused"
    parts.append(f"Due {due_text}. Policy {sla.policy_id} version {sla.policy_version}.")
    return " ".join(parts)


def _hours_text(hours: dict[str, tuple[tuple[str, str], ...]]) -> str:
    if not hours:
        return "never open"
    return "; ".join(f"{day} " + ",".join(f"{a}-{b}" for a, b in ivs) for day, ivs in hours.items())


def deadline_for(req: DeadlineRequest) -> DeadlineResult:
    """The pure function behind `compute_deadline` (the activity only adds metrics)."""
    sla = req.sla
    target = sla.target(req.clock, req.severity)
    if target is None:
        raise ValueError(f"{req.clock} has no target at severity {req.severity}")
    paused: list[tuple[datetime, datetime | None]] = [(p.start, p.end) for p in req.paused]
    due = sla.due(req.clock, req.started_at, paused, severity=req.severity)
    zone = sla.business_calendar().zone
    due_at = due.due_at
    warnings = list(due.warnings)
    if req.eta is not None and due_at is not None and req.eta < due_at:
        # A promised ETA earlier than the policy maximum becomes the deadline.
        due_at = req.eta.astimezone(zone)
        warnings = [w for w in warnings if w.at < due_at]
    until = req.now if req.now > req.started_at else req.started_at
    used = sla.used(req.clock, req.started_at, until, paused, severity=req.severity)
    last = (due_at or until).astimezone(zone).date()
    holidays = _holidays_between(sla, req.started_at.astimezone(zone).date(), last)
    return DeadlineResult(
        due_at=due_at,
        due_local=due_at.isoformat() if due_at else None,
        due_text=local_text(due_at, sla.calendar.timezone) if due_at else None,
        warnings=[
            WarningResult(at=w.at, label=w.label, text=local_text(w.at, sla.calendar.timezone))
            for w in warnings
        ],
        target_text=target.text,
        business=target.business,
        used=used,
        holidays_in_span=holidays,
        explanation=_explain(req, due_at, holidays),
    )
