"""Issue 13, "Seed fidelity": every clause of the five policies, nothing decided in code.

Each test names the clause (or the defect) it pins; each fails on the code before the fix.
"""

from __future__ import annotations

import ast
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.app import create_app
from plumbing.settings import ApiToken, Settings
from policies.catalog import BUILTIN_DIR, check_files, load_catalog
from policies.customer import Customer
from policies.errors import PolicyError
from policies.snapshot import Clock, ResolvedSla, add_local
from ticketclock.cli import main
from workflows.messages import TicketInput

POLICIES_DIR = Path(__file__).resolve().parent.parent / "policies"
TOKEN = "fidelity-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OPENED = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_operator_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETCLOCK_POLICY_DIRS", raising=False)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The real app; the preview route resolves policies and never reaches Temporal."""

    async def no_temporal() -> Any:
        raise AssertionError("the policy preview must not need Temporal")

    settings = Settings(api_tokens=(ApiToken("t", TOKEN, frozenset({"tickets:read"})),))
    app = create_app(settings, no_temporal, catalog=load_catalog(()))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["policy", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def resolve(policy: str, tier: str, severity: str, **kw: Any) -> Any:
    return load_catalog(()).resolve(policy, tier, severity, **kw)


# -- item 1: severities match by id, label or alias only ----------------------------------------


@pytest.mark.parametrize("text", ["-1", "-2", "2-", "sev-3", "p 1", "S-1", "1.", " -1 "])
def test_negative_or_punctuated_severities_are_refused_listing_the_allowed(text: str) -> None:
    """Defect: the normaliser dropped hyphens, so `-1` was Sev1 and `2-` was P2."""
    policy = "confluent-cloud" if text.lower().startswith("p") else "clickhouse"
    with pytest.raises(PolicyError) as err:
        resolve(
            policy,
            "enterprise" if policy == "clickhouse" else "premier",
            text,
            customer=Customer(timezone="Europe/Berlin"),
        )
    assert err.value.field == "severity"
    first = "p1 (P1, 1" if policy == "confluent-cloud" else "sev1 (Sev1, 1"
    assert "allowed" in err.value.message and first in err.value.message


@pytest.mark.parametrize(
    ("policy", "tier", "text", "expected"),
    [
        ("confluent-cloud", "premier", "P3", "p3"),
        ("confluent-cloud", "premier", "p3", "p3"),
        ("confluent-cloud", "premier", " priority one ", "p1"),
        ("clickhouse", "enterprise", "1", "sev1"),
        ("clickhouse", "enterprise", "sev2", "sev2"),
        ("clickhouse", "enterprise", "SEVERITY LEVEL 3", "sev3"),
        ("confluence-health-check", "standard", "Sev-1", "sev1"),  # a documented alias
        ("kubeark", "standard", "URGENT", "urgent"),
    ],
)
def test_documented_names_still_match_in_any_case(
    policy: str, tier: str, text: str, expected: str
) -> None:
    sla = resolve(policy, tier, text, customer=Customer(timezone="Europe/Berlin"))
    assert sla.requested_severity == expected
    # The workflow's change_severity uses the snapshot's matcher: the same names, the same ids.
    assert sla.find_severity(text) == expected


@given(text=st.text(max_size=20))
def test_a_severity_matches_only_one_of_its_names(text: str) -> None:
    """Property: whatever the text, opening either refuses it (PolicyError naming `severity`) or
    lands on a severity one of whose names equals it up to case and surrounding space, and the
    snapshot's matcher (change_severity) agrees."""
    catalog = load_catalog(())
    sla = catalog.resolve("confluence-health-check", "standard", "sev4")
    policy = catalog.get("confluence-health-check")
    try:
        found = catalog.resolve("confluence-health-check", "standard", text).requested_severity
    except PolicyError as err:
        assert err.field == "severity"
        assert sla.find_severity(text) is None
        return
    sdef = next(s for s in policy.severities if s.id == found)
    assert text.strip().casefold() in {n.casefold() for n in sdef.names()}
    assert sla.find_severity(text) == found


@pytest.mark.parametrize("text", ["-1", "2-", "sev-2", "sev 1"])
def test_change_severity_refuses_what_opening_refuses(text: str) -> None:
    sla = resolve("clickhouse", "enterprise", "sev3")
    assert sla.find_severity(text) is None
    assert "sev1 (Sev1, 1, S1" in sla.allowed_severities()


def test_cli_due_refuses_a_negative_severity(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(
        capsys,
        "due",
        "clickhouse",
        "--tier",
        "enterprise",
        "--severity=-1",
        "--opened",
        "2026-06-10T10:00:00Z",
    )
    assert code == 2
    assert err.startswith("error: severity: unknown severity '-1'") and "allowed" in err


async def test_api_refuses_a_negative_severity_with_422(http: httpx.AsyncClient) -> None:
    body = {"tier": "premier", "severity": "-2", "customer": {"timezone": "Europe/Berlin"}}
    resp = await http.post("/v1/policies/confluent-cloud/preview", json=body, headers=AUTH)
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["field"] == "severity" and "p2 (P2, 2" in error["message"]


# -- layering: no import cycle inside policies/, nothing of ours outside it ---------------------


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # every import, inside functions too
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_policies_has_no_import_cycle_and_imports_nothing_of_ours_outside() -> None:
    """Defect: catalog.py and resolve.py imported each other (one of them inside a function)."""
    modules = {f"policies.{p.stem}": p for p in POLICIES_DIR.glob("*.py") if p.stem != "__init__"}
    ours = {"workflows", "activities", "api", "ticketclock", "plumbing", "tests", "bench"}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _imports(path)
        assert not {i.split(".")[0] for i in imported} & ours, (name, imported)
        graph[name] = {i for i in imported if i in modules}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or reaches(nxt, goal, seen | {nxt}) for nxt in graph[start] - seen)

    cycles = [name for name in graph if reaches(name, name, set())]
    assert not cycles, cycles


# -- item 2: Kubeark's ticket type, channel and product clauses ---------------------------------


def test_kubeark_request_carries_no_response_time() -> None:
    """002 2.4: requests that are not Incidents are "not bound by the response times"."""
    sla = resolve("kubeark", "standard", "urgent", ticket_type="request")
    assert sla.ticket_type == "request"
    assert sla.exempt_reason is not None and "2.4" in sla.exempt_reason
    assert all(not t.targets for t in sla.severities)


def test_kubeark_ticket_without_type_or_channel_is_a_bound_incident() -> None:
    """Issue 13: no `type` means incident, no `channel` means reported through a Ticket."""
    sla = resolve("kubeark", "standard", "urgent")
    assert sla.ticket_type == "incident" and sla.exempt_reason is None
    assert sla.target(Clock.first_response) is not None
    portal = resolve("kubeark", "standard", "urgent", channel="portal")
    assert portal.exempt_reason is None


@pytest.mark.parametrize("channel", ["email", "phone", "Slack"])
def test_kubeark_incident_reported_other_than_by_ticket_carries_no_obligation(
    channel: str,
) -> None:
    """002 3.2: "Kubeark will be under no obligation to reply to Incidents received in any other
    manner" (the old code gave `--channel email` the full Urgent SLA)."""
    sla = resolve("kubeark", "standard", "urgent", channel=channel)
    assert sla.exempt_reason is not None and "3.2" in sla.exempt_reason
    assert sla.target(Clock.first_response) is None
    assert sla.target(Clock.escalation_window) is None


@pytest.mark.parametrize("product", ["beta", "Trial", "free", "public preview", "early access"])
def test_kubeark_beta_trial_and_free_use_is_excluded(product: str) -> None:
    """002 Support Exclusions (i)-(iii): no obligation to support free, trial, preview, beta."""
    sla = resolve("kubeark", "standard", "high", product=product)
    assert sla.exempt_reason is not None and "Support Exclusions" in sla.exempt_reason
    assert all(not t.targets for t in sla.severities)
    assert resolve("kubeark", "standard", "high", product="kubeark platform").exempt_reason is None


def test_unknown_ticket_type_is_refused_listing_the_allowed() -> None:
    with pytest.raises(PolicyError) as err:
        resolve("kubeark", "standard", "urgent", ticket_type="question")
    assert err.value.field == "type" and "incident, request" in err.value.message


def test_other_policies_keep_their_targets_for_requests() -> None:
    """Only a policy that says so exempts requests (ClickHouse has no such clause)."""
    sla = resolve("clickhouse", "enterprise", "sev2", ticket_type="request")
    assert sla.exempt_reason is None and sla.target(Clock.first_response) is not None


async def test_api_preview_takes_the_ticket_type(http: httpx.AsyncClient) -> None:
    body = {"tier": "standard", "severity": "urgent", "type": "request"}
    resp = await http.post("/v1/policies/kubeark/preview", json=body, headers=AUTH)
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "request" and "2.4" in resp.json()["exempt_reason"]
    assert resp.json()["clocks"] == []
    bad = await http.post(
        "/v1/policies/kubeark/preview", json={**body, "type": "question"}, headers=AUTH
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "type"


def test_ticket_input_carries_the_type() -> None:
    sla = resolve("kubeark", "standard", "urgent", ticket_type="request")
    ticket = TicketInput(key="K-1", sla=sla, opened_at=OPENED, type="request")
    assert TicketInput.model_validate_json(ticket.model_dump_json()).type == "request"


# -- item 3: durations carry their unit; calendar days on the local clock -----------------------


def test_kubeark_30_day_escalation_window_is_30_local_days_across_dst() -> None:
    """002 3.5 "within maximum 30 (thirty) days": 03-20 12:00 EET ends 04-19 12:00 EEST.

    The old code counted 720 real hours and ended at 13:00 EEST.
    """
    opened = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)  # 12:00 EET
    sla = resolve("kubeark", "standard", "high", opened_at=opened)
    target = sla.target(Clock.escalation_window)
    assert target is not None and target.unit == "calendar_days"
    due = sla.due(Clock.escalation_window, opened).due_at
    assert due is not None
    assert due.isoformat() == "2026-04-19T12:00:00+03:00"
    # and back across the autumn change: 10-20 12:00 EEST ends 11-19 12:00 EET
    autumn = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
    due = sla.due(Clock.escalation_window, autumn).due_at
    assert due is not None and due.isoformat() == "2026-11-19T12:00:00+02:00"


@given(
    start=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    days=st.integers(min_value=1, max_value=400),
    zone=st.sampled_from(["Europe/Bucharest", "America/Chicago", "Australia/Lord_Howe", "UTC"]),
)
def test_calendar_days_keep_the_local_wall_time(start: datetime, days: int, zone: str) -> None:
    """N calendar days later is the same wall time N dates later, unless DST skips that time."""
    tz = ZoneInfo(zone)
    end = add_local(start, timedelta(days=days), tz)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    assert local_end.date() == local_start.date() + timedelta(days=days) or (
        local_end.date() == local_start.date() + timedelta(days=days + 1)  # a gap at midnight
    )
    naive = local_start.replace(tzinfo=None) + timedelta(days=days)
    if naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive:
        assert local_end.replace(tzinfo=None) == naive  # the wall time exists: kept exactly
    assert timedelta(days=days) - timedelta(hours=2) <= end - start
    assert end - start <= timedelta(days=days) + timedelta(hours=2)


def test_old_snapshots_without_a_unit_replay_as_they_ran() -> None:
    """A recorded Kubeark snapshot had no `unit`: its 720 h window stays 720 h (no drift)."""
    opened = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)
    data = resolve("kubeark", "standard", "high", opened_at=opened).model_dump(mode="json")
    for terms in data["severities"]:
        for target in terms["targets"].values():
            del target["unit"], target["calendar"]
    old = ResolvedSla.model_validate(data)
    assert old.target(Clock.escalation_window).unit == "elapsed"  # type: ignore[union-attr]
    assert old.target(Clock.first_response).unit == "business"  # type: ignore[union-attr]
    due = old.due(Clock.escalation_window, opened).due_at
    assert due is not None and due - opened == timedelta(hours=720)


def test_every_catalogue_target_says_its_unit_and_calendar() -> None:
    catalog = load_catalog(("tests/fixtures/policies",))
    for policy_id in catalog.ids():
        policy = catalog.get(policy_id)
        for tier in policy.tiers:
            customer = Customer(timezone="Europe/Berlin", region="emea")
            sla = catalog.resolve(policy_id, tier, policy.severity_ids()[-1], customer)
            for terms in sla.severities:
                for target in terms.targets.values():
                    assert target.unit in ("elapsed", "calendar_days", "business")
                    assert target.business is (target.unit == "business")


def test_reopen_window_in_days_is_refused_naming_hours(tmp_path: Path) -> None:
    """The workflow measures the reopen window in real time: days would silently be 24 h each."""
    text = (BUILTIN_DIR / "kong.toml").read_text()
    (tmp_path / "kong.toml").write_text(
        text.replace('id = "kong"', 'id = "kong-days"').replace(
            'reopen_window = "168 hours"', 'reopen_window = "7d"'
        )
    )
    fields = {e.field: e.message for e in check_files([tmp_path / "kong.toml"], dirs=[])}
    key = f"{tmp_path / 'kong.toml'}: reopen_window"
    assert key in fields and "168 hours" in fields[key]


# -- item 4: ClickHouse's two calendars --------------------------------------------------------


def test_clickhouse_models_normal_business_hours_and_business_day() -> None:
    """001 Defined Terms: "Business Day" excludes national holidays; "Normal Business Hours"
    (what every response time counts) has no holiday carve-out."""
    policy = load_catalog(()).get("clickhouse")
    assert set(policy.calendars) == {"normal_business_hours", "business_day"}
    assert policy.calendars["normal_business_hours"].holidays == ()
    assert "Business Day" in policy.calendars["business_day"].source
    for tier in ("enterprise", "scale", "basic"):
        sla = resolve("clickhouse", tier, "sev3")
        target = sla.target(Clock.first_response)
        assert target is not None and target.calendar == "normal_business_hours"


def test_clickhouse_business_day_holidays_never_stretch_a_response(tmp_path: Path) -> None:
    """Filling the Business Day holidays (as the seed allows) leaves response deadlines alone.

    On the old code the only calendar's holiday field carried that comment: filling it moved
    a Sev2 response over US Thanksgiving by a day.
    """
    (tmp_path / "ch.toml").write_text(
        'id = "clickhouse"\noverride = true\n'
        '[calendars.business_day]\nholidays = { country = "US" }\n'
    )
    opened = datetime(2026, 11, 25, 23, 0, tzinfo=UTC)  # an hour before Thanksgiving (UTC)
    plain = resolve("clickhouse", "enterprise", "sev2", opened_at=opened)
    with_holidays = load_catalog((tmp_path,)).resolve(
        "clickhouse", "enterprise", "sev2", opened_at=opened
    )
    due = with_holidays.due(Clock.first_response, opened).due_at
    assert due == plain.due(Clock.first_response, opened).due_at
    assert due == datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # two Normal Business Hours


def test_a_target_on_the_business_day_calendar_skips_its_holidays(tmp_path: Path) -> None:
    """The second calendar is real: a target naming it counts Business Days, holidays out."""
    (tmp_path / "ch.toml").write_text(
        'id = "clickhouse"\noverride = true\n'
        "[calendars.business_day]\nholidays = [2026-11-26]\n"
        "[targets.enterprise.sev3]\n"
        'first_response = { within = "1 business day", clock = "business_day" }\n'
    )
    opened = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    sla = load_catalog((tmp_path,)).resolve("clickhouse", "enterprise", "sev3", opened_at=opened)
    assert "business_day" in sla.calendars and sla.calendar.name == "normal_business_hours"
    due = sla.due(Clock.first_response, opened).due_at
    assert due == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # 26 November does not count


# -- item 5: clauses recorded as not modelled -------------------------------------------------


def test_unencoded_clauses_are_recorded_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """001 3.b "Response times do not apply to TAM Architects"; 004 4. final update "at closure"
    and 3. "production-impacting" scope: each a cited `not_modelled` entry `policy show` prints.
    """
    catalog = load_catalog(())
    clickhouse = catalog.get("clickhouse").not_modelled
    assert any("TAM Architects" in n.clause and n.source.startswith("3.b") for n in clickhouse)
    health = catalog.get("confluence-health-check").not_modelled
    assert any("then at closure" in n.clause for n in health)
    assert any("production-impacting" in n.clause for n in health)
    code, out, _ = cli(capsys, "show", "clickhouse")
    assert code == 0 and "not modelled" in out and "TAM Architects" in out
    code, out, _ = cli(capsys, "show", "confluence-health-check")
    assert code == 0 and "then at closure" in out and "production-impacting" in out


# -- item 6: CLI and API details --------------------------------------------------------------


def test_business_tier_p1_needs_no_time_zone() -> None:
    """000: a Business-tier P1 is 60 minutes round the clock: no zone is needed to count it.

    The old code refused it ("customer.timezone: required") because P3/P4 count business hours.
    """
    sla = resolve("confluent-cloud", "business", "p1", opened_at=OPENED)
    target = sla.target(Clock.first_response)
    assert target is not None and target.unit == "elapsed"
    assert sla.due(Clock.first_response, OPENED).due_at == OPENED + timedelta(minutes=60)
    # The business-hour severities cannot be reached without the zone, and say why.
    p3 = sla.terms("p3")
    assert not p3.entitled and "customer.timezone is required" in (p3.not_entitled_reason or "")
    with pytest.raises(ValueError, match=r"customer\.timezone"):
        sla.with_severity("p3")
    with pytest.raises(PolicyError) as err:
        resolve("confluent-cloud", "business", "p3", opened_at=OPENED)
    assert err.value.field == "customer.timezone"


def test_json_amount_says_business_hours_not_days(capsys: pytest.CaptureFixture[str]) -> None:
    """Defect: 24 business hours printed as "1d", which reads as a calendar day."""
    code, out, err = cli(
        capsys,
        "due",
        "clickhouse",
        "--tier",
        "basic",
        "--severity",
        "sev3",
        "--opened",
        "2026-11-27T23:30:00Z",
        "--json",
    )
    assert code == 0, err
    (first,) = json.loads(out)["clocks"]
    assert first["amount"] == "24 business hours" and first["unit"] == "business"
    assert first["calendar"] == "normal_business_hours"
    code, out, err = cli(
        capsys,
        "due",
        "kubeark",
        "--tier",
        "standard",
        "--severity",
        "high",
        "--opened",
        "2026-03-20T10:00:00Z",
        "--json",
    )
    window = next(c for c in json.loads(out)["clocks"] if c["clock"] == "escalation_window")
    assert window["amount"] == "30 calendar days" and window["unit"] == "calendar_days"


def test_date_only_opened_suggests_a_form_that_parses(capsys: pytest.CaptureFixture[str]) -> None:
    """Defect: the error suggested `2026-11-27Z`, which is itself rejected."""
    argv = ("due", "clickhouse", "--tier", "basic", "--severity", "3")
    code, _, err = cli(capsys, *argv, "--opened", "2026-11-27")
    assert code == 2 and "needs a UTC offset" in err
    suggestion = err.rsplit("e.g. ", 1)[1].strip()
    assert suggestion == "2026-11-27T00:00:00Z"
    code, _, err = cli(capsys, *argv, "--opened", suggestion)
    assert code == 0, err


@pytest.mark.parametrize("opened", ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z"])
def test_an_instant_out_of_range_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], opened: str
) -> None:
    """Defect: `--opened 9999-...` ended in a traceback (holidays and deadlines overflow)."""
    code, _, err = cli(
        capsys, "due", "kubeark", "--tier", "standard", "--severity", "high", "--opened", opened
    )
    assert code == 2 and "outside the supported range" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (
            ("clickhouse", "--tier", "basic", "--severity", "3", "--timezone", "Europe/Berlin"),
            "timezone",
        ),
        (("clickhouse", "--tier", "basic", "--severity", "3", "--region", "emea"), "region"),
        (
            (
                "confluent-cloud",
                "--tier",
                "premier",
                "--severity",
                "p3",
                "--region",
                "emea",
                "--timezone",
                "Europe/Berlin",
            ),
            "region",
        ),
    ],
)
def test_due_refuses_a_zone_or_region_the_policy_does_not_use(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], field: str
) -> None:
    code, _, err = cli(capsys, "due", *argv, "--opened", "2026-11-27T10:00:00Z")
    assert code == 2 and err.startswith(f"error: {field}: ") and "does not use" in err


@pytest.mark.parametrize(
    ("zone", "says"),
    [
        ("EST", "America/New_York"),
        ("CET", "Europe/Paris"),
        ("EST5EDT", "America/New_York"),
        ("Etc/GMT+5", "region"),
        ("Europe", "not an IANA region time zone"),
        ("America", "not an IANA region time zone"),
        ("Etc", "not an IANA region time zone"),
        ("x" * 300, "too long"),
        ("localtime", "not an IANA region time zone"),
        ("posixrules", "not an IANA region time zone"),
        ("Factory", "not an IANA region time zone"),
        ("right/UTC", "not an IANA region time zone"),
        ("../../etc/passwd", "not an IANA region time zone"),
    ],
)
def test_only_real_region_zones_are_accepted(zone: str, says: str) -> None:
    """Issue 13 item 6 and issue 12 items 3, 7: `Europe` was a 500 (IsADirectoryError), a
    300-character name an OSError, `localtime`/`Factory`/`right/UTC` and `EST` were accepted."""
    with pytest.raises(PolicyError) as err:
        resolve("confluent-cloud", "premier", "p3", customer=Customer(timezone=zone))
    assert err.value.field == "customer.timezone" and says in err.value.message


def test_a_bad_zone_is_refused_even_where_the_policy_does_not_read_it() -> None:
    """Issue 12: zones are real IANA zones only, whatever the policy does with them."""
    with pytest.raises(PolicyError) as err:
        resolve("clickhouse", "enterprise", "sev2", customer=Customer(timezone="Europe"))
    assert err.value.field == "customer.timezone"


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/Argentina/Buenos_Aires", "UTC"])
def test_region_zones_and_utc_still_resolve(zone: str) -> None:
    sla = resolve("confluent-cloud", "premier", "p3", customer=Customer(timezone=zone))
    assert sla.calendar.timezone == zone


@pytest.mark.parametrize("zone", ["Europe", "x" * 300, "localtime", "EST"])
async def test_api_answers_422_naming_customer_timezone(http: httpx.AsyncClient, zone: str) -> None:
    body = {"tier": "premier", "severity": "p3", "customer": {"timezone": zone}}
    resp = await http.post("/v1/policies/confluent-cloud/preview", json=body, headers=AUTH)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == "customer.timezone"


# -- item 8: a changed meaning gets a new version and an effective_from ---------------------------


def test_every_catalogue_policy_has_a_version_and_effective_from() -> None:
    """The what-if and migration issue builds on (version, effective_from)."""
    catalog = load_catalog(())
    for policy_id in catalog.ids():
        policy = catalog.get(policy_id)
        assert policy.effective_from is not None, policy_id
        assert policy.version.endswith(".2"), policy_id  # issue 13 changed every file's meaning
        sla = (
            catalog.resolve(
                policy_id,
                next(iter(policy.tiers)),
                policy.severity_ids()[-1],
                Customer(timezone="Europe/Berlin", region="emea"),
            )
            if policy_id != "kong"
            else None
        )
        if sla is not None:
            assert sla.policy_effective_from == policy.effective_from
            assert sla.policy_version == policy.version


def test_version_changes_with_meaning_against_the_committed_snapshots() -> None:
    """A snapshot whose deadlines or lifecycle differ from the committed one must carry a new
    version: same version, same meaning."""
    from tests import snapshot_tool

    catalog = snapshot_tool.grid_catalog()
    for policy_id in catalog.ids():
        committed = json.loads(snapshot_tool.snapshot_path(policy_id).read_text())
        now = snapshot_tool.compute(policy_id, catalog)
        if committed["version"] == now["version"]:
            assert committed["cases"] == now["cases"], policy_id
            assert committed.get("lifecycle") == now["lifecycle"], policy_id
