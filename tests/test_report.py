"""The SLA report as a pure function over hand-made ledgers with known numbers; its text and HTML;
and the report routes' parameter handling against an in-memory source (no Temporal here;
tests/test_report_api.py runs it on a real server, worker and HTTP)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from api.app import create_app
from api.report import (
    ReportQuery,
    Skipped,
    SlaReport,
    build_report,
    percentile,
    render_text,
)
from api.report_html import render_html
from plumbing.settings import ApiToken, Settings
from policies.snapshot import Clock
from tests.support.fakes import FakeGateway
from workflows.contract import ticket_workflow_id
from workflows.messages import ClockCycle, CycleStatus, TicketStatus, TicketView

MONDAY = datetime(2026, 11, 16, tzinfo=UTC)  # "this week" starts here
LAST_WEEK = ReportQuery(from_=MONDAY - timedelta(days=7), to=MONDAY, group_by="severity")

S = CycleStatus


def cycle(
    clock: Clock, status: CycleStatus, minutes: float | None = None, *, severity: str = "sev1"
) -> ClockCycle:
    return ClockCycle(
        clock=clock,
        cycle=1,
        severity=severity,
        started_at=MONDAY - timedelta(days=5),
        status=status,
        business_used=None if minutes is None else timedelta(minutes=minutes),
    )


def ticket(
    key: str,
    severity: str,
    *cycles: ClockCycle,
    tier: str = "gold",
    label: str | None = None,
) -> TicketView:
    return TicketView(
        key=key,
        workflow_id=ticket_workflow_id(key),
        policy="acme",
        policy_version="1",
        tier=tier,
        severity=severity,
        severity_label=label or severity.capitalize(),
        requested_severity=severity,
        cap_reason=None,
        status=TicketStatus.in_progress,
        opened_at=MONDAY - timedelta(days=5),
        subject=None,
        calendar="business",
        timezone="UTC",
        breached=any(c.status == S.breached for c in cycles),
        breached_clocks=[],
        next_deadline=None,
        next_deadline_clock=None,
        clocks=list(cycles),
        events=[],
    )


FR, NU = Clock.first_response, Clock.next_update

# Last week: four Sev1 tickets (first response 10, 20, 30 and 100 business minutes, the last one
# breached), two Sev3 (5 and 40 minutes, both met), one Sev3 still waiting.
TICKETS = [
    ticket("A-1", "sev1", cycle(FR, S.met, 10), cycle(NU, S.met), cycle(NU, S.breached)),
    ticket("A-2", "sev1", cycle(FR, S.met, 20), cycle(NU, S.running), tier="silver"),
    ticket("A-3", "sev1", cycle(FR, S.met, 30), cycle(NU, S.stopped)),
    ticket("A-4", "sev1", cycle(FR, S.breached, 100)),
    ticket("B-1", "sev3", cycle(FR, S.met, 5, severity="sev3"), tier="silver"),
    ticket("B-2", "sev3", cycle(FR, S.met, 40, severity="sev3")),
    ticket("B-3", "sev3", cycle(FR, S.running, severity="sev3")),
]
AT = MONDAY + timedelta(hours=9)


def report(query: ReportQuery = LAST_WEEK, views: list[TicketView] = TICKETS) -> SlaReport:
    return build_report(views, query, generated_at=AT)


def test_percentile_interpolates_between_closest_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    assert percentile([30, 10, 20], 0.5) == 20  # order does not matter


def test_what_was_our_sev1_first_response_rate_last_week() -> None:
    result = report()
    [sev1] = [g for g in result.groups if g.key == "acme/sev1"]
    first = sev1.by_clock["first_response"]
    assert (first.met, first.breached) == (3, 1)
    assert first.breach_rate == 0.25  # so 75% of Sev1 tickets got their first response in time
    assert sev1.first_response_business_minutes_median == 25.0  # of 10, 20, 30, 100
    assert sev1.first_response_business_minutes_p90 == pytest.approx(79.0)  # 30 + 0.7 * 70


def test_group_by_severity_counts_every_decided_cycle() -> None:
    result = report()
    assert [g.key for g in result.groups] == ["acme/sev1", "acme/sev3"]
    sev1, sev3 = result.groups
    assert (sev1.tickets, sev1.clocks, sev1.met, sev1.breached) == (4, 8, 4, 2)
    assert (sev1.open, sev1.stopped) == (1, 1)
    assert sev1.breach_rate == pytest.approx(2 / 6)
    assert sev1.by_clock["next_update"].model_dump() == {
        "clocks": 4,
        "met": 1,
        "breached": 1,
        "open": 1,
        "stopped": 1,
        "breach_rate": 0.5,
    }
    assert (sev3.tickets, sev3.clocks, sev3.met, sev3.breached, sev3.open) == (3, 3, 2, 0, 1)
    assert sev3.breach_rate == 0.0
    assert sev3.first_response_samples == 2  # the running one is not a sample
    assert sev3.first_response_business_minutes_median == 22.5

    totals = result.totals
    assert (totals.tickets, totals.clocks, totals.met, totals.breached) == (7, 11, 6, 2)
    assert totals.breach_rate == 0.25
    assert totals.first_response_business_minutes_median == 25.0  # 5 10 20 30 40 100


def test_group_by_tier_and_by_clock() -> None:
    by_tier = report(LAST_WEEK.model_copy(update={"group_by": "tier"}))
    assert {g.key: (g.tickets, g.met, g.breached) for g in by_tier.groups} == {
        "gold": (5, 4, 2),
        "silver": (2, 2, 0),
    }
    by_clock = report(LAST_WEEK.model_copy(update={"group_by": "clock"}))
    assert [(g.key, g.label) for g in by_clock.groups] == [
        ("first_response", "first response"),
        ("next_update", "next update"),
    ]
    first, update = by_clock.groups
    assert (first.tickets, first.met, first.breached, first.open) == (7, 5, 1, 1)
    assert first.breach_rate == pytest.approx(1 / 6)
    assert update.first_response_samples == 0
    assert update.first_response_business_minutes_median is None


def test_matrix_and_distribution_feed_the_charts() -> None:
    result = report(LAST_WEEK.model_copy(update={"group_by": "tier"}))
    first = result.clocks_by_severity["first_response"]
    assert {sev: (c.met, c.breached) for sev, c in first.items()} == {
        "acme/sev1": (3, 1),
        "acme/sev3": (2, 0),
    }
    buckets = {b.label: b.count for b in result.first_response_distribution}
    assert buckets["≤5m"] == 1  # 5 (inclusive)
    assert buckets["≤15m"] == 1  # 10
    assert buckets["≤30m"] == 2  # 20, 30
    assert buckets["≤1h"] == 1  # 40
    assert buckets["≤2h"] == 1  # 100
    assert sum(buckets.values()) == 6
    assert result.first_response_distribution[-1].upper_minutes is None


def test_silence_and_escalation_clocks_and_an_empty_range() -> None:
    other = ticket(
        "C-1",
        "sev1",
        cycle(Clock.customer_silence, S.expired),
        cycle(Clock.escalation_window, S.expired),
    )
    result = report(views=[other])
    assert result.groups == []
    assert (result.totals.tickets, result.totals.clocks) == (1, 0)
    assert result.totals.breach_rate is None
    empty = report(views=[])
    assert empty.totals.tickets == 0 and empty.clocks_by_severity == {}
    assert "<svg" in render_html(empty)  # the distribution chart, empty


def test_severity_change_is_judged_per_cycle() -> None:
    # Raised as Sev3, answered late, then upgraded: the breach belongs to Sev3.
    upgraded = ticket("D-1", "sev1", cycle(FR, S.breached, 600, severity="sev3"))
    result = report(views=[upgraded])
    assert [(g.key, g.breached, g.label) for g in result.groups] == [
        ("acme/sev3", 1, "acme · sev3")
    ]


def test_text_rendering() -> None:
    text = render_text(build_report(TICKETS, LAST_WEEK, generated_at=AT, skipped=[]))
    lines = text.splitlines()
    assert lines[0].startswith("SLA report: tickets started 2026-11-09 00:00 .. 2026-11-16 00:00")
    [sev1] = [line for line in lines if line.startswith("acme · sev1 ")]
    assert re.search(r"\b4\s+8\s+4\s+2\s+1\s+33\.3%\s+25m\s+1h 19m$", sev1), sev1
    [total] = [line for line in lines if line.startswith("All tickets")]
    assert "25.0%" in total


def test_html_page_is_self_contained_and_escaped() -> None:
    hostile = ticket("E-1", "sev1", cycle(FR, S.met, 3)).model_copy(
        update={"policy": "<script>alert(1)</script>"}
    )
    skipped = [Skipped(key="E-2", reason="QueryFailed: <b>")]
    page = render_html(
        build_report([hostile, *TICKETS], LAST_WEEK, generated_at=AT, skipped=skipped)
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "&lt;b&gt;" in page
    # the rate chart (one bar per table row), plus the distribution
    assert page.count("<svg") == 2
    assert "Breach rate per row of the table" in page
    # no external assets: no URL other than the SVG namespace
    urls = set(re.findall(r"(?:https?:)?//[^\s\"'<>)]+", page))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert not re.search(r"<(link|img|script|iframe)\b", page)


# -- the routes, with an in-memory source --------------------------------------------------------
TOKEN = "report-reader-token-0123456789"


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, FakeGateway]]:
    settings = Settings(api_tokens=(ApiToken("r", TOKEN, frozenset({"tickets:read"})),))
    source = FakeGateway()
    source.report_views = TICKETS
    source.report_skipped = [Skipped(key="Z-9", reason="QueryFailed: boom")]
    app = create_app(settings, gateway=source)
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        yield c, source


async def test_report_route_builds_an_escaped_visibility_query(
    api: tuple[httpx.AsyncClient, FakeGateway],
) -> None:
    http, source = api
    params = {
        "from": "2026-11-09T00:00:00+01:00",
        "to": "2026-11-16T00:00:00Z",
        "policy": "kong",
        "group_by": "tier",
    }
    resp = await http.get("/v1/reports/sla", params=params)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert source.report_queries == [
        "WorkflowType = 'TicketWorkflow' AND StartTime >= '2026-11-08T23:00:00Z' "
        "AND StartTime < '2026-11-16T00:00:00Z' AND TicketPolicy = 'kong'"
    ]
    assert body["query"]["from"] == "2026-11-08T23:00:00Z"
    assert body["query"]["group_by"] == "tier"
    assert body["totals"]["tickets"] == 7
    assert body["skipped"] == [{"key": "Z-9", "reason": "QueryFailed: boom"}]
    assert [g["key"] for g in body["groups"]] == ["gold", "silver"]


async def test_report_route_defaults_to_the_last_seven_days(
    api: tuple[httpx.AsyncClient, FakeGateway],
) -> None:
    http, _ = api
    body = (await http.get("/v1/reports/sla")).json()
    start = datetime.fromisoformat(body["query"]["from"])
    end = datetime.fromisoformat(body["query"]["to"])
    assert end - start == timedelta(days=7)
    assert abs(datetime.now(UTC) - end) < timedelta(minutes=1)
    assert body["query"]["group_by"] == "severity"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-11-09T00:00:00"}, "from"),  # naive
        ({"from": "2026-11-16T00:00:00Z", "to": "2026-11-09T00:00:00Z"}, "from"),
        ({"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),  # > 366 days
        ({"group_by": "customer"}, "group_by"),
        ({"policy": "no-such-policy"}, "policy"),
        ({"severity": "sev1"}, "severity"),  # unknown parameter
    ],
)
async def test_report_route_rejects_bad_parameters(
    api: tuple[httpx.AsyncClient, FakeGateway], params: dict[str, str], field: str
) -> None:
    http, source = api
    resp = await http.get("/v1/reports/sla", params=params)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == field
    assert source.report_queries == []


async def test_report_routes_need_the_read_scope(
    api: tuple[httpx.AsyncClient, FakeGateway],
) -> None:
    http, _ = api
    for path in ("/v1/reports/sla", "/v1/reports/sla.html"):
        assert (await http.get(path, headers={"Authorization": ""})).status_code == 401
    html = await http.get("/v1/reports/sla.html", params={"group_by": "clock"})
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert "<svg" in html.text
