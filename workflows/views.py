"""What a ticket shows: its view, the explain query, search attribute values, the UI's Markdown.

Pure functions of `TicketState` (no Temporal import): the workflow shell only hands them over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from policies.snapshot import Clock
from workflows.keys import ticket_workflow_id
from workflows.messages import ClockCycle, CycleStatus, Explanation, TicketState, TicketView
from workflows.rules import SLA_CLOCKS, Refused

# Characters that mean something in (GitHub-flavoured) Markdown, tables included.
_MARKDOWN_SPECIAL = set("\\`*_{}[]()<>#+!|~")


def md(text: object) -> str:
    """`text` as literal Markdown inside a table cell: specials escaped, one line."""
    out = []
    for ch in " ".join(str(text).split()):
        out.append("\\" + ch if ch in _MARKDOWN_SPECIAL else ch)
    return "".join(out)


def next_deadline(s: TicketState) -> tuple[datetime | None, str | None]:
    best: tuple[datetime | None, str | None] = (None, None)
    for c in s.cycles:
        running = c.status == CycleStatus.running and c.clock in SLA_CLOCKS
        if running and c.due_at is not None and (best[0] is None or c.due_at < best[0]):
            best = (c.due_at, c.clock.value)
    return best


def breached_clocks(s: TicketState) -> list[str]:
    return sorted({c.clock.value for c in s.cycles if c.status == CycleStatus.breached})


def search_attributes(s: TicketState) -> dict[str, Any]:
    """Search attribute name -> value (None or [] means unset)."""
    breached = breached_clocks(s)
    return {
        "TicketPolicy": s.sla.policy_id,
        "TicketTier": s.sla.tier,
        "TicketSeverity": s.sla.severity,
        "TicketState": s.status.value,
        "SlaBreached": bool(breached),
        "SlaNextDeadline": next_deadline(s)[0],
        "SlaBreachedClocks": breached,
    }


# The Temporal UI draws Markdown tables without cell padding, so "first_response", "1" and "met"
# would run together. Em spaces are not Markdown whitespace: they survive cell trimming and keep
# the columns apart in any renderer, while the table stays a table.
CELL_GAP = "\u2003\u2003"


def _row(cells: list[str]) -> str:
    padded = [cell + CELL_GAP for cell in cells[:-1]] + cells[-1:]
    return "| " + " | ".join(padded) + " |"


def details_markdown(s: TicketState) -> str:
    """The Temporal UI's current details: a summary line and a real Markdown table, every
    user-supplied value (subject, channel, product, ...) escaped."""
    terms = s.sla.terms()
    head = (
        f"**{md(s.key)}** · {md(s.sla.policy_name)} · {md(s.sla.tier_label)} · "
        f"{md(terms.label)} · `{s.status.value}`"
    )
    lines = [head]
    breached = breached_clocks(s)
    if breached:
        # Breaches stand out above the table: the first thing an operator opening the ticket sees.
        lines.append(f"🔴 **BREACHED: {', '.join(breached)}**  ")
    facts = [
        ("subject", s.subject),
        ("channel", s.channel),
        ("product", s.product),
    ]
    for name, value in facts:
        if value:
            lines.append(f"{name}: {md(value)}  ")
    lines += [
        "",
        _row(["clock", "#", "status", "due", "target"]),
        "| --- | --- | --- | --- | --- |",
    ]
    latest: dict[Clock, ClockCycle] = {}
    for c in s.cycles:
        latest[c.clock] = c
    for c in latest.values():
        due = c.due_text or ("paused" if c.status == CycleStatus.paused else "—")
        # Clock and status names are ours (snake_case, shown as is); the rest is escaped.
        status = c.status.value
        if c.status == CycleStatus.breached:
            status = f"🔴 **{status}**"
        cells = [c.clock.value, str(c.cycle), status, md(due), md(c.target_text)]
        lines.append(_row(cells))
    if s.sla.cap_reason:
        lines += ["", f"Severity capped: {md(s.sla.cap_reason)}"]
    return "\n".join(lines)


def view(s: TicketState) -> TicketView:
    next_at, next_clock = next_deadline(s)
    terms = s.sla.terms()
    breached = breached_clocks(s)
    return TicketView(
        key=s.key,
        workflow_id=ticket_workflow_id(s.key),
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
        breached=bool(breached),
        breached_clocks=breached,
        next_deadline=next_at,
        next_deadline_clock=next_clock,
        clocks=s.cycles,
        events=s.events,
        incident_commander=s.incident_commander,
        runs=s.runs,
        first_response_at=s.first_response_at,
        promised_update_at=s.promised_update_at,
    )


def explain(s: TicketState, clock: str) -> Explanation:
    try:
        wanted = Clock(clock)
    except ValueError:
        raise Refused(
            "UnknownClock", f"clock: {clock!r} is not one of {[c.value for c in Clock]}"
        ) from None
    sla = s.sla
    cycles = [c for c in s.cycles if c.clock == wanted]
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
