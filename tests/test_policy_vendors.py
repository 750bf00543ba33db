"""Per-vendor behaviour, one test per clause: each docstring cites the seed clause it checks.

Expected instants are worked out by hand in the comments (business hours counted on a wall
calendar), never taken from the code under test.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from policies.catalog import Catalog, load_catalog
from policies.customer import Customer
from policies.errors import PolicyError
from policies.snapshot import Clock, ResolvedSla


def at(text: str) -> datetime:
    """An aware instant from ISO 8601 ("...Z" or with an offset)."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, "test instants carry their offset"
    return value


def sla_for(
    policy: str,
    tier: str,
    severity: str,
    opened_at: str,
    *,
    catalog: Catalog | None = None,
    channel: str | None = None,
    product: str | None = None,
    **customer: str,
) -> ResolvedSla:
    catalog = catalog or load_catalog([])
    return catalog.resolve(
        policy,
        tier,
        severity,
        Customer(**customer),
        channel=channel,
        product=product,
        opened_at=at(opened_at),
    )


def assert_due(
    policy: str,
    tier: str,
    severity: str,
    opened_at: str,
    expected: str,
    clock: str = "first_response",
    *,
    catalog: Catalog | None = None,
    channel: str | None = None,
    product: str | None = None,
    **customer: str,
) -> ResolvedSla:
    """`clock`, started when the ticket opens, falls due at `expected` (compared as instants)."""
    sla = sla_for(
        policy,
        tier,
        severity,
        opened_at,
        catalog=catalog,
        channel=channel,
        product=product,
        **customer,
    )
    due = sla.due(Clock(clock), at(opened_at))
    assert due.due_at is not None
    assert due.due_at == at(expected), (
        f"{policy} {tier}/{severity} {clock} opened {opened_at}: due {due.due_at.isoformat()}, "
        f"expected {expected}"
    )
    return sla


def write_override(tmp_path: Path, name: str, text: str) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text)
    return directory


# -- 000 Confluent Cloud ----------------------------------------------------------------------


def test_confluent_premier_p1_is_30_minutes_around_the_clock() -> None:
    """000 1.5: Premier P1 "Within 30 minutes", on a Saturday night too (24x7)."""
    sla = assert_due(
        "confluent-cloud",
        "premier",
        "P1",
        "2026-11-28T03:00:00Z",
        "2026-11-28T03:30:00Z",
        timezone="America/New_York",
    )
    target = sla.target(Clock.first_response)
    assert target is not None and not target.business


def test_confluent_customer_zone_drives_the_business_clock() -> None:
    """000 4.0: Business Hours are 9-5 Mon-Fri "in Customer's local time zone"."""
    opened = "2026-11-25T12:00:00Z"  # Wed 21:00 in Tokyo, Wed 07:00 in New York
    # Tokyo: closed now; Thu 09:00 JST + 8 h = Thu 17:00 JST = 08:00Z.
    tokyo = assert_due(
        "confluent-cloud",
        "developer",
        "P1",
        opened,
        "2026-11-26T08:00:00Z",
        timezone="Asia/Tokyo",
    )
    # New York: opens 09:00 EST (14:00Z) + 8 h = 17:00 EST = 22:00Z the same day.
    new_york = assert_due(
        "confluent-cloud",
        "developer",
        "P1",
        opened,
        "2026-11-25T22:00:00Z",
        timezone="America/New_York",
    )
    assert tokyo.calendar.timezone == "Asia/Tokyo"
    assert new_york.calendar.timezone == "America/New_York"


def test_confluent_two_business_days_are_sixteen_business_hours_across_eu_dst() -> None:
    """000 1.5 + 4.0: P4 "Within 2 Business Days" = 2 x (09:00-17:00) = 16 business hours."""
    # Fri 16:00 CET: 1 h Friday; Mon 30 Mar (now CEST) 8 h; Tue 09:00 + 7 h = 16:00 CEST = 14:00Z.
    sla = assert_due(
        "confluent-cloud",
        "business",
        "p4",
        "2026-03-27T15:00:00Z",
        "2026-03-31T14:00:00Z",
        timezone="Europe/Berlin",
    )
    target = sla.target(Clock.first_response)
    assert target is not None and target.amount == timedelta(hours=16) and target.business


@pytest.mark.parametrize(
    ("severity", "zone"), [("p3", None), ("p1", "Mars/Olympus_Mons"), ("p3", "")]
)
def test_confluent_needs_a_valid_customer_timezone(severity: str, zone: str | None) -> None:
    """000 4.0: without the customer's zone there is no business clock to count on.

    (P3 counts business hours; a P1 without a zone resolves: test_policy_fidelity, item 6.)
    """
    with pytest.raises(PolicyError) as err:
        load_catalog([]).resolve(
            "confluent-cloud",
            "premier",
            severity,
            Customer(timezone=zone),
            opened_at=at("2026-01-05T10:00:00Z"),
        )
    assert err.value.field == "customer.timezone"


def test_confluent_premier_postmortem_is_off_by_default_and_configurable(tmp_path: Path) -> None:
    """000 3.0: Premier postmortems have no deadline: no clock unless an operator sets one."""
    default = sla_for("confluent-cloud", "premier", "p1", "2026-01-05T10:00:00Z", timezone="UTC")
    assert default.target(Clock.post_incident_review) is None
    directory = write_override(
        tmp_path,
        "confluent-pir.toml",
        'id = "confluent-cloud"\noverride = true\n'
        '[targets.premier.p1]\npost_incident_review = "5 business days"\n',
    )
    configured = sla_for(
        "confluent-cloud",
        "premier",
        "p1",
        "2026-01-05T10:00:00Z",
        catalog=load_catalog([directory]),
        timezone="UTC",
    )
    target = configured.target(Clock.post_incident_review)
    assert target is not None and target.amount == timedelta(hours=40) and target.business
    assert configured.target(Clock.post_incident_review, "p2") is None  # only what was set


# -- 001 ClickHouse ---------------------------------------------------------------------------


def test_clickhouse_basic_sev1_is_capped_to_sev3() -> None:
    """001: Basic is not entitled to Sev1 -> Sev3, 24 Normal Business Hours."""
    # Fri 23:30Z: 30 min left in Normal Business Hours; Mon 00:00Z + 23.5 h = Mon 23:30Z.
    sla = assert_due("clickhouse", "basic", "1", "2026-11-27T23:30:00Z", "2026-11-30T23:30:00Z")
    assert (sla.requested_severity, sla.severity) == ("sev1", "sev3")
    assert sla.cap_reason is not None and "3.b Limitations" in sla.cap_reason
    for sev in ("sev1", "sev2"):
        terms = sla.terms(sev)
        assert not terms.entitled and "not entitled" in (terms.not_entitled_reason or "")
    with pytest.raises(ValueError):
        sla.with_severity("sev2")


def test_clickhouse_enterprise_sev1_is_30_minutes_follow_the_sun() -> None:
    """001 3.a/3.b: Enterprise Sev1 "30 minutes", continuous follow-the-sun: 24x7 on Saturday."""
    assert_due("clickhouse", "enterprise", "sev1", "2026-11-28T10:00:00Z", "2026-11-28T10:30:00Z")


def test_clickhouse_scale_sev1_counts_normal_business_hours() -> None:
    """001 1./3.a: Scale Sev1 "one Normal Business Hour"; NBH are closed on Saturday."""
    assert_due("clickhouse", "scale", "Sev1", "2026-11-28T10:00:00Z", "2026-11-30T01:00:00Z")


def test_clickhouse_enterprise_sev2_spans_the_weekend() -> None:
    """001 3.a: Enterprise Sev2 "two Normal Business Hours": 1 h on Friday, 1 h on Monday."""
    assert_due("clickhouse", "enterprise", "2", "2026-11-27T23:00:00Z", "2026-11-30T01:00:00Z")


def test_clickhouse_email_starts_at_sev3_but_keeps_sev1_entitled() -> None:
    """001 3.b: "All inbound production email cases shall have an initial status of Severity
    Level 3"."""
    sla = assert_due(
        "clickhouse",
        "enterprise",
        "critical",
        "2026-11-25T10:00:00Z",
        "2026-11-26T10:00:00Z",
        channel="Email",
    )
    assert sla.severity == "sev3" and sla.cap_reason and "email" in sla.cap_reason
    assert sla.terms("sev1").entitled  # a channel default only sets the starting severity
    raised = sla.with_severity("sev1")
    assert raised.severity == "sev1"


@pytest.mark.parametrize("product", ["experimental", "Beta", "Private Preview"])
def test_clickhouse_experimental_features_are_sev3_only(product: str) -> None:
    """001 5.(iii): non-production ready features "may only be filed ... as a Severity Level 3"."""
    sla = sla_for("clickhouse", "enterprise", "sev1", "2026-11-25T10:00:00Z", product=product)
    assert sla.severity == "sev3"
    assert sla.cap_reason and "5. Supported Versions" in sla.cap_reason
    assert not sla.terms("sev1").entitled and not sla.terms("sev2").entitled


def test_clickhouse_has_no_holidays_by_default() -> None:
    """001 1.: holidays of an unnamed place: none by default, so Christmas Day counts."""
    sla = assert_due("clickhouse", "scale", "sev3", "2026-12-24T12:00:00Z", "2026-12-25T12:00:00Z")
    assert sla.calendar.holidays == ()


def test_clickhouse_holidays_are_configurable(tmp_path: Path) -> None:
    """001 1. Business Day: an operator names the holidays; Christmas then does not count."""
    directory = write_override(
        tmp_path,
        "clickhouse-holidays.toml",
        'id = "clickhouse"\noverride = true\n'
        "[calendars.normal_business_hours]\nholidays = [2026-12-25]\n",
    )
    # Thu 12:00Z + 12 h = Thu 24:00; Fri 25 closed; weekend; Mon 28 00:00 + 12 h = 12:00Z.
    assert_due(
        "clickhouse",
        "scale",
        "sev3",
        "2026-12-24T12:00:00Z",
        "2026-12-28T12:00:00Z",
        catalog=load_catalog([directory]),
    )


# -- 002 Kubeark ------------------------------------------------------------------------------


def test_kubeark_valid_ticket_fields_are_required() -> None:
    """002 3.2: a valid Ticket must contain customer info ... confirmation of first line support."""
    sla = sla_for("kubeark", "standard", "normal", "2026-11-30T08:00:00Z")
    assert set(sla.intake_required) == {
        "customer_info",
        "description",
        "reproduction_steps",
        "platform_version",
        "priority_reason",
        "first_line_confirmation",
    }


def test_kubeark_business_day_is_eight_hours_on_romanian_working_days() -> None:
    """002 Defined Terms: "a daily 8-hour period" on Romanian working days (public holidays off)."""
    # Fri 27 Nov 10:00 EET: 7 h Friday; weekend; Mon 30 Nov (St Andrew's Day) and Tue 1 Dec
    # (National Day) are holidays; Wed 2 Dec 09:00 + 1 h = 10:00 EET = 08:00Z.
    sla = assert_due(
        "kubeark", "standard", "Normal", "2026-11-27T08:00:00Z", "2026-12-02T08:00:00Z"
    )
    assert sla.calendar.timezone == "Europe/Bucharest"
    assert sla.calendar.business_day == timedelta(hours=8)
    assert {date(2026, 11, 30), date(2026, 12, 1)} <= set(sla.calendar.holidays)


def test_kubeark_urgent_hour_runs_on_business_days_only() -> None:
    """002 2.1/2.3: Urgent "1 hour", but support is given "solely on Business Days"."""
    # Sat 21 Nov: nothing counts until Mon 23 Nov 09:00 EET (07:00Z); + 1 h = 08:00Z.
    sla = assert_due(
        "kubeark", "standard", "urgent", "2026-11-21T10:00:00Z", "2026-11-23T08:00:00Z"
    )
    target = sla.target(Clock.first_response)
    assert target is not None and target.business and target.amount == timedelta(hours=1)


def test_kubeark_escalation_window_is_30_days_for_high_and_urgent_only() -> None:
    """002 3.5: escalate High or Urgent "within maximum 30 (thirty) days after receiving a final
    response"."""
    for severity in ("urgent", "high"):
        assert_due(
            "kubeark",
            "standard",
            severity,
            "2026-11-28T10:00:00Z",
            "2026-12-28T10:00:00Z",
            clock="escalation_window",
        )
    sla = sla_for("kubeark", "standard", "normal", "2026-11-28T10:00:00Z")
    assert sla.target(Clock.escalation_window) is None


# -- 003 Kong ---------------------------------------------------------------------------------

KONG_CONTRACT = """
id = "kong"
override = true
version = "seed + test contract"
[targets.enterprise.sev1]
first_response = "4 business hours"
[targets.enterprise.sev2]
first_response = "8 business hours"
[targets.enterprise.sev3]
first_response = "2 business days"
[targets.enterprise.sev4]
first_response = "3 business days"
"""


@pytest.fixture
def kong_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Catalog:
    directory = write_override(tmp_path, "kong-contract.toml", KONG_CONTRACT)
    monkeypatch.setenv("TICKETCLOCK_POLICY_DIRS", str(directory))
    return load_catalog()


def test_kong_unset_target_names_the_missing_setting() -> None:
    """003 (6): the response-time table is missing from the seed: no invented numbers."""
    with pytest.raises(PolicyError) as err:
        sla_for("kong", "enterprise", "Severity 1", "2026-11-25T10:00:00Z", region="EMEA")
    assert err.value.field == "targets.enterprise.sev1.first_response"
    assert "not configured" in err.value.message
    assert "TICKETCLOCK_POLICY_DIRS" in err.value.message


def test_kong_override_directory_supplies_the_numbers(kong_configured: Catalog) -> None:
    """003 (6) note *: EMEA customers get London hours 07:00-19:00 and England's holidays."""
    from policies.catalog import resolve  # the module-level entry point honours the env var

    sla = resolve(
        "kong", "enterprise", "1", Customer(region="emea"), opened_at=at("2026-12-24T18:00:00Z")
    )
    assert sla.policy_version == "seed + test contract"
    assert (sla.calendar.name, sla.calendar.timezone) == ("emea", "Europe/London")
    # Thu 24 Dec 18:00 GMT: 1 h; Fri 25 (Christmas), weekend, Mon 28 (Boxing Day observed)
    # closed; Tue 29 07:00 + 3 h = 10:00 GMT.
    assert sla.due(Clock.first_response, at("2026-12-24T18:00:00Z")).due_at == at(
        "2026-12-29T10:00:00Z"
    )


def test_kong_americas_uses_chicago_and_us_illinois_holidays(kong_configured: Catalog) -> None:
    """003 (6) note *: North/South America -> Chicago (CST/CDT), banking/statutory holidays."""
    # Wed 25 Nov 17:00 CST: 2 h; Thu 26 Thanksgiving; Fri 27 07:00 + 2 h = 09:00 CST = 15:00Z.
    sla = assert_due(
        "kong",
        "enterprise",
        "sev1",
        "2026-11-25T23:00:00Z",
        "2026-11-27T15:00:00Z",
        catalog=kong_configured,
        region="North America",
    )
    assert sla.customer_region == "americas"
    assert sla.calendar.timezone == "America/Chicago"


def test_kong_three_business_days_are_twelve_hour_days(kong_configured: Catalog) -> None:
    """003 (6) note *: 7 a.m. to 7 p.m. is a 12-hour business day (Singapore for AP/ANZ)."""
    # Mon 2 Nov 07:00 SGT + 36 business hours = Wed 4 Nov 19:00 SGT = 11:00Z.
    sla = assert_due(
        "kong",
        "enterprise",
        "sev4",
        "2026-11-01T23:00:00Z",
        "2026-11-04T11:00:00Z",
        catalog=kong_configured,
        region="APAC",
    )
    assert sla.calendar.name == "apac"


def test_kong_customer_silence_may_close_after_five_business_days(kong_configured: Catalog) -> None:
    """003 (5): "Failure of Customer to respond ... for a period of 5 business days"."""
    # Mon 2 Nov 07:00 GMT + 5 x 12 h = Fri 6 Nov 19:00 GMT.
    sla = assert_due(
        "kong",
        "enterprise",
        "sev2",
        "2026-11-02T07:00:00Z",
        "2026-11-06T19:00:00Z",
        clock="customer_silence",
        catalog=kong_configured,
        region="EMEA",
    )
    target = sla.target(Clock.customer_silence)
    assert target is not None and len(target.warnings) >= 1  # reminders before it closes


def test_kong_insomnia_is_sev3_or_sev4_only(kong_configured: Catalog) -> None:
    """003 (6) note ***: Insomnia errors "will be classified as Severity Level 3 or 4 only"."""
    sla = sla_for(
        "kong",
        "enterprise",
        "sev1",
        "2026-11-25T10:00:00Z",
        catalog=kong_configured,
        product="Insomnia",
        region="EMEA",
    )
    assert sla.severity == "sev3"
    assert sla.cap_reason and "Insomnia" in sla.cap_reason
    assert [t.entitled for t in sla.severities] == [False, False, True, True]


@pytest.mark.parametrize(
    ("region", "calendar"),
    [("South America", "americas"), ("EMEA", "emea"), ("ANZ", "apac"), ("ap/anz", "apac")],
)
def test_kong_region_aliases(kong_configured: Catalog, region: str, calendar: str) -> None:
    """003 (6) note *: regions "North/South America, EMEA, AP/ANZ"."""
    sla = sla_for(
        "kong", "enterprise", "sev3", "2026-11-25T10:00:00Z", catalog=kong_configured, region=region
    )
    assert sla.calendar.name == calendar


@pytest.mark.parametrize("region", [None, "Antarctica"])
def test_kong_region_is_required_and_checked(kong_configured: Catalog, region: str | None) -> None:
    """003 (6) note *: the time zone follows the customer's region; none or unknown is refused."""
    with pytest.raises(PolicyError) as err:
        kong_configured.resolve(
            "kong",
            "enterprise",
            "sev3",
            Customer(region=region),
            opened_at=at("2026-11-25T10:00:00Z"),
        )
    assert err.value.field == "customer.region"


def test_kong_partially_configured_severities_are_refused_by_name(tmp_path: Path) -> None:
    """003 (6): an override that sets only Sev1 leaves Sev2-4 unset, and says so."""
    directory = write_override(
        tmp_path,
        "kong-sev1.toml",
        'id = "kong"\noverride = true\n[targets.enterprise.sev1]\nfirst_response = "1h"\n',
    )
    catalog = load_catalog([directory])
    sla = sla_for(
        "kong", "enterprise", "sev1", "2026-11-25T10:00:00Z", catalog=catalog, region="EMEA"
    )
    sev2 = sla.terms("sev2")
    assert not sev2.entitled
    assert "targets.enterprise.sev2.first_response: not configured" in (
        sev2.not_entitled_reason or ""
    )
    with pytest.raises(PolicyError) as err:
        sla_for(
            "kong", "enterprise", "sev2", "2026-11-25T10:00:00Z", catalog=catalog, region="EMEA"
        )
    assert err.value.field == "targets.enterprise.sev2.first_response"


# -- 004 Confluence Health Check --------------------------------------------------------------


def test_health_check_sev1_and_sev2_require_an_eta_and_page_oncall() -> None:
    """004 3./4.: "All Sev-1 and Sev-2 requests require an explicit next-update ETA" and page."""
    sla = sla_for("confluence-health-check", "standard", "sev3", "2026-11-25T10:00:00Z")
    assert [t.eta_required for t in sla.severities] == [True, True, False, False]
    assert [t.page_oncall for t in sla.severities] == [True, True, False, False]


def test_health_check_incident_commander_within_15_minutes() -> None:
    """004 4.: "Incident Commander is assigned for Sev-1/Sev-2 within 15 minutes"."""
    assert_due(
        "confluence-health-check",
        "standard",
        "Sev-2",
        "2026-11-28T03:00:00Z",
        "2026-11-28T03:15:00Z",
        clock="incident_commander",
    )


def test_health_check_updates_every_60_minutes_around_the_clock() -> None:
    """004 4.: "Customer updates are posted at least every 60 minutes until mitigation"."""
    sla = assert_due(
        "confluence-health-check",
        "standard",
        "critical",
        "2026-11-28T23:30:00Z",
        "2026-11-29T00:30:00Z",
        clock="next_update",
    )
    target = sla.target(Clock.next_update)
    assert target is not None and not target.business
    assert sla.target(Clock.next_update, "sev3") is None


def test_health_check_post_incident_review_two_business_days() -> None:
    """004 4.: "Post-incident review is opened within 2 business days for Sev-1/Sev-2"."""
    # Fri 16:00 UTC: 1 h Friday, Mon 8 h, Tue 09:00 + 7 h = 16:00 UTC.
    sla = assert_due(
        "confluence-health-check",
        "standard",
        "sev1",
        "2026-11-27T16:00:00Z",
        "2026-12-01T16:00:00Z",
        clock="post_incident_review",
    )
    assert sla.target(Clock.post_incident_review, "sev4") is None


def test_health_check_first_response_targets() -> None:
    """004 3.: Sev-1 24 hours (24x7), Sev-2 1 business day (Mon-Fri 09:00-17:00 UTC, assumed)."""
    assert_due(
        "confluence-health-check",
        "standard",
        "sev1",
        "2026-11-28T10:00:00Z",
        "2026-11-29T10:00:00Z",
    )
    # Saturday: Mon 09:00 + 8 h = Mon 17:00 (a due time on closing time stays there).
    assert_due(
        "confluence-health-check",
        "standard",
        "high",
        "2026-11-28T10:00:00Z",
        "2026-11-30T17:00:00Z",
    )
