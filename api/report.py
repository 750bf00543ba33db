"""The SLA report, as a pure function over tickets' ledgers (`TicketView`s): no Temporal, no I/O.

`GET /v1/reports/sla` reads the views from Temporal (visibility, then each workflow's ledger) and
calls `build_report`; `ticketclock report` renders the JSON it answers as text or HTML.

What is counted (docs/reports.md):
- every cycle of the clocks that can be met or breached (`REPORTED_CLOCKS`); `customer_silence`
  and `escalation_window` end as stopped or expired and are left out;
- a group is a set of cycles: by the severity the cycle was judged at, the ticket's tier, or the
  clock; `tickets` counts the distinct tickets owning them (totals count every ticket read);
- `breach_rate` = breached / (met + breached); running, paused and stopped cycles are not decided;
- first-response time is the cycle's `business_used` (business time on a business clock, wall time
  on a 24x7 one) for first_response cycles that were met or breached. A breached cycle nobody had
  answered yet counts with the time until the breach: a lower bound. Median and p90 interpolate
  linearly between the closest ranks.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.snapshot import Clock
from workflows.messages import ClockCycle, CycleStatus, TicketView

GroupBy = Literal["severity", "tier", "clock"]
GROUP_BYS: tuple[GroupBy, ...] = ("severity", "tier", "clock")

REPORTED_CLOCKS = (
    Clock.first_response,
    Clock.next_update,
    Clock.incident_commander,
    Clock.post_incident_review,
)
_OPEN = (CycleStatus.running, CycleStatus.paused)
_STOPPED = (CycleStatus.stopped, CycleStatus.expired)

# First-response distribution: upper bounds in minutes (business minutes on business clocks).
DISTRIBUTION_MINUTES = (1, 5, 15, 30, 60, 120, 240, 480, 960, 2400)


class ReportQuery(BaseModel):
    """What the report covers: tickets whose workflow started in [from, to)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: datetime = Field(alias="from")
    to: datetime
    policy: str | None = None
    group_by: GroupBy = "severity"
    visibility_query: str | None = Field(
        None, description="The Temporal visibility query the tickets were listed with."
    )


class ClockCounts(BaseModel):
    clocks: int = Field(0, description="Clock cycles counted.")
    met: int = 0
    breached: int = 0
    open: int = Field(0, description="Still running or paused: not decided yet.")
    stopped: int = Field(0, description="Ended neither met nor breached (e.g. mitigation).")
    breach_rate: float | None = Field(None, description="breached / (met + breached).")


class GroupStats(ClockCounts):
    key: str = Field(description="'policy/severity' (by severity), the tier id or the clock.")
    label: str
    rank: int | None = Field(None, description="By severity: the common rank 1..4.")
    policy: str | None = Field(None, description="By severity: the policy the severity is of.")
    tickets: int = 0
    first_response_samples: int = 0
    first_response_business_minutes_median: float | None = None
    first_response_business_minutes_p90: float | None = None
    by_clock: dict[str, ClockCounts] = Field(default_factory=dict)


class Bucket(BaseModel):
    upper_minutes: float | None = Field(description="Inclusive upper bound; null: no bound.")
    label: str
    count: int


class OpenClock(BaseModel):
    """A ticket of the range whose clock still runs: what is due, and whether it is at risk."""

    key: str
    policy: str
    severity_label: str
    rank: int | None
    clock: str
    due_at: datetime | None
    due_text: str | None
    warned: bool
    breached: bool = Field(description="Another clock of the ticket already breached.")
    at_risk: bool = Field(description="Warned, breached elsewhere, or under an hour left.")


class Skipped(BaseModel):
    """A ticket listed by visibility whose ledger could not be read (and is not counted)."""

    key: str
    reason: str


class SlaReport(BaseModel):
    query: ReportQuery
    generated_at: datetime
    totals: GroupStats
    groups: list[GroupStats]
    clocks_by_severity: dict[str, dict[str, ClockCounts]] = Field(
        description="clock -> severity -> counts: met vs breached by severity, whatever group_by."
    )
    severity_labels: dict[str, str] = Field(
        description="'policy/severity' -> 'Rank 1 · policy · P1' (catalogue labels)."
    )
    first_response_distribution: list[Bucket]
    open_clocks: list[OpenClock] = Field(
        default_factory=list, description="Running clocks, at risk first, then by deadline."
    )
    skipped: list[Skipped] = Field(default_factory=list)


# -- arithmetic ------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1), interpolating linearly between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def breach_rate(met: int, breached: int) -> float | None:
    decided = met + breached
    return breached / decided if decided else None


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """'sev2' before 'sev10': digit runs compare as numbers."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    )


def first_response_minutes(cycle: ClockCycle) -> float | None:
    if (
        cycle.clock != Clock.first_response
        or cycle.status not in (CycleStatus.met, CycleStatus.breached)
        or cycle.business_used is None
    ):
        return None
    return cycle.business_used.total_seconds() / 60


# -- building ----------------------------------------------------------------------------------
class _Tally:
    def __init__(self) -> None:
        self.tickets: set[str] = set()
        self.counts = ClockCounts()
        self.by_clock: dict[str, ClockCounts] = defaultdict(ClockCounts)
        self.minutes: list[float] = []

    def add(self, key: str, cycle: ClockCycle) -> None:
        self.tickets.add(key)
        for counts in (self.counts, self.by_clock[cycle.clock.value]):
            _count(counts, cycle.status)
        minutes = first_response_minutes(cycle)
        if minutes is not None:
            self.minutes.append(minutes)

    def stats(self, key: str, label: str, tickets: int | None = None) -> GroupStats:
        by_clock = {
            clock.value: _finished(self.by_clock[clock.value])
            for clock in REPORTED_CLOCKS
            if clock.value in self.by_clock
        }
        return GroupStats(
            key=key,
            label=label,
            tickets=len(self.tickets) if tickets is None else tickets,
            **_finished(self.counts).model_dump(),
            first_response_samples=len(self.minutes),
            first_response_business_minutes_median=_rounded(percentile(self.minutes, 0.5)),
            first_response_business_minutes_p90=_rounded(percentile(self.minutes, 0.9)),
            by_clock=by_clock,
        )


def _count(counts: ClockCounts, status: CycleStatus) -> None:
    counts.clocks += 1
    if status == CycleStatus.met:
        counts.met += 1
    elif status == CycleStatus.breached:
        counts.breached += 1
    elif status in _OPEN:
        counts.open += 1
    elif status in _STOPPED:
        counts.stopped += 1


def _finished(counts: ClockCounts) -> ClockCounts:
    return counts.model_copy(update={"breach_rate": breach_rate(counts.met, counts.breached)})


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _group_key(group_by: GroupBy, view: TicketView, cycle: ClockCycle) -> str:
    if group_by == "severity":
        return f"{view.policy}/{cycle.severity}"
    if group_by == "tier":
        return view.tier
    return cycle.clock.value


def _reported(view: TicketView) -> Iterable[ClockCycle]:
    return (c for c in view.clocks if c.clock in REPORTED_CLOCKS)


def _distribution(minutes: Sequence[float]) -> list[Bucket]:
    counts = [0] * (len(DISTRIBUTION_MINUTES) + 1)
    for value in minutes:
        index = next(
            (i for i, bound in enumerate(DISTRIBUTION_MINUTES) if value <= bound),
            len(DISTRIBUTION_MINUTES),
        )
        counts[index] += 1
    buckets = [
        Bucket(upper_minutes=bound, label=f"≤{minutes_text(bound)}", count=counts[i])
        for i, bound in enumerate(DISTRIBUTION_MINUTES)
    ]
    last = f">{minutes_text(DISTRIBUTION_MINUTES[-1])}"
    return [*buckets, Bucket(upper_minutes=None, label=last, count=counts[-1])]


def minutes_text(minutes: float | None) -> str:
    """Durations for people: 0.358 -> '21s', 12.5 -> '12m 30s', 125 -> '2h 05m',
    4560 -> '3d 4h', 539886 -> '374d 22h'; None -> '-'."""
    if minutes is None:
        return "-"
    seconds = round(minutes * 60)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        whole, rest = divmod(seconds, 60)
        return f"{whole}m {rest:02d}s" if rest else f"{whole}m"
    hours, rest = divmod(round(seconds / 60), 60)
    if hours < 24:
        return f"{hours}h {rest:02d}m" if rest else f"{hours}h"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


SeverityInfo = Callable[[str, str], tuple[int | None, str]]
AT_RISK = timedelta(hours=1)


def _open_clocks(views: Sequence[TicketView], info: SeverityInfo, now: datetime) -> list[OpenClock]:
    out = []
    for view in views:
        for cycle in view.clocks:
            if cycle.clock not in REPORTED_CLOCKS or cycle.status not in _OPEN:
                continue
            rank, label = info(view.policy, cycle.severity)
            warned = any(w.sent_at is not None for w in cycle.warnings)
            soon = cycle.due_at is not None and cycle.due_at - now < AT_RISK
            out.append(
                OpenClock(
                    key=view.key,
                    policy=view.policy,
                    severity_label=label,
                    rank=rank,
                    clock=cycle.clock.value,
                    due_at=cycle.due_at,
                    due_text=cycle.due_text,
                    warned=warned,
                    breached=view.breached,
                    at_risk=warned or soon or view.breached,
                )
            )
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(out, key=lambda o: (not o.at_risk, o.due_at or far, o.key))


def build_report(
    views: Sequence[TicketView],
    query: ReportQuery,
    *,
    generated_at: datetime,
    skipped: Sequence[Skipped] = (),
    severity_info: SeverityInfo | None = None,
) -> SlaReport:
    """The report over `views` (already selected by `query`; nothing is filtered here).

    `severity_info(policy, severity) -> (rank, label)` comes from the catalogue (the API passes
    it); without it a severity has no rank and is labelled by its id.
    """
    info: SeverityInfo = severity_info or (lambda policy, severity: (None, severity))
    totals = _Tally()
    groups: dict[str, _Tally] = defaultdict(_Tally)
    matrix: dict[str, dict[str, ClockCounts]] = defaultdict(lambda: defaultdict(ClockCounts))
    ranks: dict[str, tuple[int | None, str, str]] = {}  # policy/severity -> rank, policy, label
    for view in views:
        for cycle in _reported(view):
            key = f"{view.policy}/{cycle.severity}"
            if key not in ranks:
                rank, own_label = info(view.policy, cycle.severity)
                ranks[key] = (rank, view.policy, own_label)
            totals.add(view.key, cycle)
            groups[_group_key(query.group_by, view, cycle)].add(view.key, cycle)
            _count(matrix[cycle.clock.value][key], cycle.status)

    def sev_order(key: str) -> tuple[int, str, tuple[tuple[int, int | str], ...]]:
        rank, policy, _ = ranks[key]
        return (rank or 99, policy, natural_key(key))

    def sev_label(key: str) -> str:
        rank, policy, text = ranks[key]
        return f"Rank {rank} · {policy} · {text}" if rank else f"{policy} · {text}"

    if query.group_by == "clock":
        order: list[str] = [c.value for c in REPORTED_CLOCKS if c.value in groups]
    elif query.group_by == "severity":
        order = sorted(groups, key=sev_order)
    else:
        order = sorted(groups, key=natural_key)

    def group(key: str) -> GroupStats:
        if query.group_by != "severity":
            return groups[key].stats(key, key.replace("_", " "))
        stats = groups[key].stats(key, sev_label(key))
        return stats.model_copy(update={"rank": ranks[key][0], "policy": ranks[key][1]})

    return SlaReport(
        query=query,
        generated_at=generated_at,
        totals=totals.stats("all", "All tickets", tickets=len(views)),
        groups=[group(key) for key in order],
        clocks_by_severity={
            clock.value: {
                sev: _finished(matrix[clock.value][sev])
                for sev in sorted(matrix[clock.value], key=sev_order)
            }
            for clock in REPORTED_CLOCKS
            if clock.value in matrix
        },
        severity_labels={key: sev_label(key) for key in sorted(ranks, key=sev_order)},
        first_response_distribution=_distribution(totals.minutes),
        open_clocks=_open_clocks(views, info, generated_at),
        skipped=list(skipped),
    )


# -- text ----------------------------------------------------------------------------------------
def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def render_text(report: SlaReport) -> str:
    """A plain table for terminals: one row per group, then the totals."""
    q = report.query
    lines = [
        f"SLA report: tickets started {q.from_:%Y-%m-%d %H:%M} .. {q.to:%Y-%m-%d %H:%M} UTC, "
        f"policy {q.policy or 'all'}, by {q.group_by}",
        "",
    ]
    header = (
        f"{q.group_by:<34} {'tickets':>7} {'clocks':>6} {'met':>5} {'breached':>8} "
        f"{'open':>5} {'breach':>7} {'1st resp p50':>12} {'p90':>8}"
    )
    lines += [header, "-" * len(header)]
    for group in [*report.groups, report.totals]:
        if group is report.totals:
            lines.append("-" * len(header))
        lines.append(
            f"{group.label[:34]:<34} {group.tickets:>7} {group.clocks:>6} {group.met:>5} "
            f"{group.breached:>8} {group.open:>5} {_percent(group.breach_rate):>7} "
            f"{minutes_text(group.first_response_business_minutes_median):>12} "
            f"{minutes_text(group.first_response_business_minutes_p90):>8}"
        )
    if report.skipped:
        lines += ["", f"{len(report.skipped)} ticket(s) not counted (ledger unreadable):"]
        lines += [f"  {s.key}: {s.reason}" for s in report.skipped[:20]]
    at_risk = [o for o in report.open_clocks if o.at_risk]
    if report.open_clocks:
        lines += ["", f"Open clocks: {len(report.open_clocks)}, at risk: {len(at_risk)}"]
        for o in report.open_clocks[:20]:
            flag = "AT RISK " if o.at_risk else ""
            lines.append(
                f"  {flag}{o.key} {o.policy} {o.severity_label} {o.clock} due {o.due_text or '-'}"
            )
    lines += ["", f"generated {report.generated_at:%Y-%m-%d %H:%M:%S} UTC"]
    return "\n".join(lines) + "\n"
