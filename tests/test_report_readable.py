"""The SLA report, readable (issue 16): grouped by rank then policy with the catalogue's labels,
durations like '2h 05m', open and at-risk clocks, the same percentages in the table and the chart,
bars whose differences show, no microseconds in the subtitle."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from api.due import rank_of
from api.report import ReportQuery, build_report, minutes_text, render_text
from api.report_html import render_html
from policies.catalog import load_catalog
from policies.snapshot import Clock
from workflows.contract import ticket_workflow_id
from workflows.messages import (
    ClockCycle,
    CycleStatus,
    TicketStatus,
    TicketView,
    WarningRecord,
)

CATALOG = load_catalog([])
NOW = datetime(2026, 11, 20, 12, 0, 30, 123456, tzinfo=UTC)
QUERY = ReportQuery(
    from_=datetime(2026, 11, 13, 9, 30, 15, 654321, tzinfo=UTC), to=NOW, group_by="severity"
)
S = CycleStatus


def info(policy: str, severity: str) -> tuple[int | None, str]:
    return rank_of(CATALOG, policy, severity)


def view(key: str, policy: str, severity: str, *cycles: ClockCycle) -> TicketView:
    return TicketView(
        key=key,
        workflow_id=ticket_workflow_id(key),
        policy=policy,
        policy_version="1",
        tier="x",
        severity=severity,
        severity_label=severity.lower(),  # a ticket's own label: the report must not use it
        requested_severity=severity,
        cap_reason=None,
        status=TicketStatus.in_progress,
        opened_at=NOW - timedelta(days=2),
        subject=None,
        calendar="c",
        timezone="UTC",
        breached=any(c.status == S.breached for c in cycles),
        breached_clocks=[],
        next_deadline=None,
        next_deadline_clock=None,
        clocks=list(cycles),
        events=[],
    )


def cyc(
    status: CycleStatus,
    severity: str,
    minutes: float = 30,
    *,
    due_in: timedelta | None = None,
    warned: bool = False,
) -> ClockCycle:
    due = NOW + due_in if due_in is not None else None
    warnings = [WarningRecord(at=NOW - timedelta(minutes=1), label="75%", sent_at=NOW)]
    return ClockCycle(
        clock=Clock.first_response,
        cycle=1,
        severity=severity,
        started_at=NOW - timedelta(days=1),
        status=status,
        due_at=due,
        due_text=f"{due:%a %d %b %H:%M} UTC" if due else None,
        business_used=timedelta(minutes=minutes) if status in (S.met, S.breached) else None,
        warnings=warnings if warned else [],
    )


VIEWS = [
    view("A-1", "kubeark", "normal", cyc(S.met, "normal")),
    view("A-2", "confluence-health-check", "sev2", cyc(S.breached, "sev2", 600)),
    view("A-3", "confluent-cloud", "p1", cyc(S.met, "p1", 20)),
    view("A-4", "kubeark", "urgent", cyc(S.breached, "urgent", 90)),
    view("A-5", "kubeark", "urgent", cyc(S.met, "urgent", 15)),
    view("A-6", "confluence-health-check", "sev1", cyc(S.met, "sev1", 125)),
    view("B-1", "confluent-cloud", "p2", cyc(S.running, "p2", due_in=timedelta(minutes=20))),
    view("B-2", "kong", "sev3", cyc(S.running, "sev3", due_in=timedelta(days=2))),
    view("B-3", "kong", "sev1", cyc(S.running, "sev1", due_in=timedelta(hours=5), warned=True)),
]


def test_groups_go_by_rank_then_policy_with_the_catalogue_labels() -> None:
    report = build_report(VIEWS, QUERY, generated_at=NOW, severity_info=info)
    keys = [(g.rank, g.policy, g.key) for g in report.groups]
    assert keys == sorted(keys, key=lambda k: (k[0] or 99, k[1] or "")), keys
    assert [g.rank for g in report.groups][:3] == [1, 1, 1]  # Sev1, P1, Urgent together
    labels = [g.label for g in report.groups]
    assert "Rank 1 · kubeark · Urgent" in labels  # the catalogue's 'Urgent', not 'urgent'
    assert "Rank 2 · confluence-health-check · Sev2" in labels
    assert not any("sev2" in label for label in labels)


def test_the_subtitle_has_no_microseconds_and_durations_read_well() -> None:
    report = build_report(VIEWS, QUERY, generated_at=NOW, severity_info=info)
    page = render_html(report)
    sub = re.search(r'<p class="sub">(.*?)</p>', page, re.S)
    assert sub is not None
    assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+", sub[1]) and "654321" not in sub[1]
    assert "2026-11-13 09:30" in sub[1]
    text = render_text(report)
    assert "123456" not in text and "654321" not in text
    assert "2h 05m" in page  # the Sev1 first response of 125 minutes
    assert not re.search(r"\b\d{3,}h\d{2}m\b|\b0\.\d+m\b", page + text)


@given(st.floats(0, 10_000_000, allow_nan=False))
def test_durations_have_at_most_two_units(minutes: float) -> None:
    text = minutes_text(minutes)
    parts = text.split()
    assert 1 <= len(parts) <= 2, text
    assert all(re.fullmatch(r"\d+[dhms]", p) for p in parts), text
    if len(parts) == 2 and parts[1][-1] in "ms":
        assert len(parts[1]) == 3, text  # '2h 05m', '12m 30s'


def test_open_and_at_risk_clocks() -> None:
    report = build_report(VIEWS, QUERY, generated_at=NOW, severity_info=info)
    open_keys = [(o.key, o.at_risk) for o in report.open_clocks]
    # at risk first: under an hour left (B-1) and warned (B-3); then the rest (B-2)
    assert open_keys == [("B-1", True), ("B-3", True), ("B-2", False)]
    page = render_html(report)
    assert "Open and at risk (2 of 3 running clocks)" in page
    assert page.index("B-1") < page.index("B-2")


def test_the_chart_says_the_same_percentages_as_the_table() -> None:
    report = build_report(VIEWS, QUERY, generated_at=NOW, severity_info=info)
    page = render_html(report)
    table = page[page.index("<h2>By ") : page.index("Met vs breached, per row")]
    chart = page[page.index("Met vs breached, per row") : page.index("<h2>Per clock")]
    # one chart row per label: it starts at the label (anchored at its end), ends at the next
    bars = re.split(r'<text [^>]*text-anchor="end"', chart)[1:]
    assert len(bars) == len(report.groups)
    for group, bar in zip(report.groups, bars, strict=True):
        rate = "-" if group.breach_rate is None else f"{group.breach_rate * 100:.1f}%"
        row = re.search(rf"<td>{re.escape(group.label)}</td>(.*?)</tr>", table)
        assert row is not None and f"<td>{rate}</td>" in row[1], group.label
        assert f">{group.label}</text>" in bar
        wanted = "nothing decided yet" if group.breach_rate is None else f"breach {rate} "
        assert wanted in bar, (group.label, bar)


def test_bars_show_the_differences() -> None:
    # A 1-ticket group and a 50-ticket group: both bars are full width, the red share is the rate.
    many = [view(f"M-{i}", "kong", "sev2", cyc(S.met, "sev2")) for i in range(49)]
    many.append(view("M-50", "kong", "sev2", cyc(S.breached, "sev2")))
    few = [view("F-1", "kubeark", "urgent", cyc(S.breached, "urgent"))]
    page = render_html(build_report(many + few, QUERY, generated_at=NOW, severity_info=info))
    reds = [float(w) for w in re.findall(r'width="([\d.]+)" height="\d+" fill="#c62828"', page)]
    assert sorted(reds) == [8.4, 420.0]  # 2% of the bar beside all of it
