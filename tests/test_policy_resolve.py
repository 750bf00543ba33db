"""`resolve()`, the `Catalog` API, overrides and duration parsing: the policy layer's contract."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from policies.catalog import check_files, clear_cache, load_catalog, resolve
from policies.customer import Customer
from policies.durations import DurationError, format_timedelta, parse_duration
from policies.errors import PolicyError
from policies.snapshot import Clock, ResolvedSla

OPENED = datetime.fromisoformat("2026-06-10T10:00:00+00:00")


@pytest.fixture(autouse=True)
def _no_operator_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TICKETCLOCK_POLICY_DIRS", raising=False)


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(text)
    return directory


# -- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "amount"),
    [
        ("60m", "elapsed", timedelta(minutes=60)),
        ("4h", "elapsed", timedelta(hours=4)),
        ("20s", "elapsed", timedelta(seconds=20)),
        ("1h30m", "elapsed", timedelta(minutes=90)),
        ("24 hours", "elapsed", timedelta(hours=24)),
        ("30 days", "calendar_days", timedelta(days=30)),
        ("30 calendar days", "calendar_days", timedelta(days=30)),
        ("7d", "calendar_days", timedelta(days=7)),
        ("2 weeks", "calendar_days", timedelta(days=14)),
        ("PT4H", "elapsed", timedelta(hours=4)),
        ("P2D", "calendar_days", timedelta(days=2)),
        ("8 business hours", "business", timedelta(hours=8)),
        ("1 Business Hour", "business", timedelta(hours=1)),
        ("2 business days", "business", timedelta(hours=2 * 7)),  # at a 7 h business day
    ],
)
def test_durations(text: str, unit: str, amount: timedelta) -> None:
    """Issue 13 item 3: every duration says its unit (elapsed, calendar days, business time)."""
    parsed = parse_duration(text)
    assert parsed.unit == unit
    assert parsed.business is (unit == "business")
    assert parsed.amount(business_day=timedelta(hours=7)) == amount


@pytest.mark.parametrize(
    "text",
    [
        "",
        "soon",
        "0m",
        "-5m",
        "2 business weeks",
        "P1M",
        "PT",
        "8 calendar hours",
        "P1DT2H30M",  # days (local clock) mixed with hours (elapsed): ambiguous
        "1d12h",
        "1.5 days",  # calendar days are whole
    ],
)
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def test_business_clock_refuses_ambiguous_days() -> None:
    assert parse_duration("4 hours").as_business().business
    with pytest.raises(DurationError):
        parse_duration("1 day").as_business()


def test_format_timedelta() -> None:
    assert format_timedelta(timedelta(days=1, hours=2, minutes=30)) == "1d2h30m"
    assert format_timedelta(timedelta(seconds=45)) == "45s"


# -- lookups and errors -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["p1", "P1", "priority one", "PRIORITY 1", "1"])
def test_severity_aliases_are_case_insensitive(name: str) -> None:
    sla = resolve("confluent-cloud", "Premier", name, Customer(timezone="UTC"), opened_at=OPENED)
    assert (sla.requested_severity, sla.severity, sla.tier) == ("p1", "p1", "premier")


def test_snapshot_lists_aliases_for_the_lead_s_lookup() -> None:
    sla = resolve("clickhouse", "enterprise", "sev2", opened_at=OPENED)
    assert sla.find_severity("critical") == "sev1"
    assert [t.severity for t in sla.severities] == ["sev1", "sev2", "sev3"]  # most severe first


def test_unknown_policy_tier_and_severity_name_the_field() -> None:
    with pytest.raises(PolicyError) as err:
        resolve("nope", "x", "y", opened_at=OPENED)
    assert err.value.field == "policy" and "clickhouse" in err.value.message
    with pytest.raises(PolicyError) as err:
        resolve("clickhouse", "platinum", "sev1", opened_at=OPENED)
    assert err.value.field == "tier"
    assert all(t in err.value.message for t in ("enterprise", "scale", "basic"))
    with pytest.raises(PolicyError) as err:
        resolve("clickhouse", "scale", "sev4", opened_at=OPENED)
    assert err.value.field == "severity"
    assert all(s in err.value.message for s in ("sev1", "sev2", "sev3"))


def test_naive_opened_at_is_refused() -> None:
    with pytest.raises(PolicyError) as err:
        resolve("clickhouse", "scale", "sev1", opened_at=datetime(2026, 1, 5, 10, 0))
    assert err.value.field == "opened_at"


def test_snapshot_is_frozen_and_round_trips_as_json() -> None:
    sla = resolve("kubeark", "standard", "high", opened_at=OPENED)
    again = ResolvedSla.model_validate_json(sla.model_dump_json())
    assert again == sla
    with pytest.raises(ValueError):
        sla.severity = "normal"  # type: ignore[misc]


def test_holidays_are_materialised_from_the_year_before_to_two_after() -> None:
    sla = resolve("kubeark", "standard", "high", opened_at=OPENED)  # opened in 2026
    holidays = set(sla.calendar.holidays)
    assert {date(2025, 12, 1), date(2026, 12, 1), date(2028, 12, 1)} <= holidays
    assert date(2024, 12, 1) not in holidays and min(holidays) >= date(2025, 1, 1)
    assert max(holidays) <= date(2028, 12, 31)
    assert "RO" in sla.calendar.holiday_source


def test_business_days_use_the_calendar_s_day_length() -> None:
    chc = resolve("confluence-health-check", "standard", "sev3", opened_at=OPENED)
    target = chc.target(Clock.first_response)
    assert target is not None and target.amount == timedelta(hours=16)  # 2 x 09:00-17:00


def test_resolved_targets_carry_their_warning_points() -> None:
    sla = resolve("clickhouse", "scale", "sev2", opened_at=OPENED)
    target = sla.target(Clock.first_response)
    assert target is not None
    assert [(w.fraction, w.label) for w in target.warnings] == [(0.75, "75%")]


def test_offset_warnings_are_in_the_clock_s_units(tmp_path: Path) -> None:
    directory = write(
        tmp_path / "dirs",
        "ch.toml",
        'id = "clickhouse"\noverride = true\n'
        '[clocks.first_response]\nsource = "3.a"\nwarnings = ["50%", "30m before"]\n'
        '[targets.scale.sev2]\nfirst_response = { within = "4 business hours", '
        'warnings = ["1 business hour before"] }\n',
    )
    catalog = load_catalog([directory])
    sla = catalog.resolve("clickhouse", "scale", "sev2", opened_at=OPENED)
    sev2 = sla.target(Clock.first_response)
    assert sev2 is not None
    assert [(w.before, w.label) for w in sev2.warnings] == [
        (timedelta(hours=1), "1 business hour before")
    ]
    sev1 = sla.target(Clock.first_response, "sev1")
    assert sev1 is not None
    assert [(w.fraction, w.before) for w in sev1.warnings] == [
        (0.5, None),
        (None, timedelta(minutes=30)),
    ]
    # Opened Wed 10:00Z: due 14:00Z; "1 business hour before" = 13:00Z.
    due = sla.due(Clock.first_response, OPENED)
    assert [w.at for w in due.warnings] == [datetime.fromisoformat("2026-06-10T13:00:00+00:00")]


# -- the catalogue ----------------------------------------------------------------------------


def test_catalog_api() -> None:
    catalog = load_catalog([])
    assert catalog.ids() == sorted(catalog.ids()) and "kong" in catalog.ids()
    assert catalog.get("kong").vendor == "Kong"
    assert catalog.files("kong") == ("kong.toml",)


def test_default_catalogue_is_cached_per_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKETCLOCK_POLICY_DIRS", raising=False)
    assert load_catalog() is load_catalog()
    directory = write(tmp_path / "extra", "mine.toml", _extends("mine"))
    monkeypatch.setenv("TICKETCLOCK_POLICY_DIRS", f"{directory}")
    assert "mine" in load_catalog().ids()
    clear_cache()
    assert "mine" in load_catalog().ids()


def _extends(new_id: str, base: str = "clickhouse") -> str:
    return (
        f'id = "{new_id}"\nextends = "{base}"\nname = "ClickHouse, Acme contract"\n'
        'version = "acme-2026"\n[targets.scale.sev1]\nfirst_response = "20s"\n'
    )


def test_extends_adds_a_policy_and_leaves_the_base_alone(tmp_path: Path) -> None:
    directory = write(tmp_path / "d", "acme.toml", _extends("clickhouse-acme"))
    catalog = load_catalog([directory])
    acme = catalog.resolve("clickhouse-acme", "scale", "sev1", opened_at=OPENED)
    target = acme.target(Clock.first_response)
    assert target is not None and target.amount == timedelta(seconds=20) and not target.business
    assert acme.policy_version == "acme-2026"
    assert catalog.files("clickhouse-acme") == ("clickhouse.toml", str(directory / "acme.toml"))
    base = catalog.resolve("clickhouse", "scale", "sev1", opened_at=OPENED).target(
        Clock.first_response
    )
    assert base is not None and base.amount == timedelta(hours=1) and base.business


def test_directories_load_in_order_and_later_overrides_win(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "x.toml", 'id = "kubeark"\noverride = true\nversion = "a"\n')
    second = write(tmp_path / "b", "x.toml", 'id = "kubeark"\noverride = true\nversion = "b"\n')
    assert load_catalog([first, second]).get("kubeark").version == "b"
    assert load_catalog([second, first]).get("kubeark").version == "a"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('id = "kong"\nname = "again"\n', "id"),  # duplicate id without override
        ('id = "nobody"\noverride = true\n', "id"),  # override of an unknown policy
        ('id = "new"\nextends = "nobody"\n', "extends"),
        (
            'id = "kong"\noverride = true\n[targets.enterprise.sev1]\nfirst_response = "soon"\n',
            "targets.enterprise.sev1.first_response.within",
        ),
        (
            'id = "kong"\noverride = true\n[targets.enterprise.sev9]\nfirst_response = "1h"\n',
            "targets.enterprise.sev9",
        ),
        (
            'id = "kong"\noverride = true\n[targets.enterprise.sev1]\n'
            'first_response = { within = "1h", warnings = ["1 business hour before"] }\n',
            "targets.enterprise.sev1.first_response.warnings[0]",
        ),
        (
            'id = "kong"\noverride = true\n[targets.enterprise.sev1]\n'
            'first_response = { within = "1h", clock = "emea" }\n',
            "targets.enterprise.sev1.first_response.clock",
        ),
        ("not toml = = =", ""),
    ],
)
def test_override_errors_name_the_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    directory = write(tmp_path / "d", "op.toml", text)
    where = str(directory / "op.toml")
    errors = check_files([], dirs=[directory])
    assert errors, "the bad file must be reported"
    assert errors[0].field == (f"{where}: {field}" if field else where)
    with pytest.raises(PolicyError) as err:
        load_catalog([directory])
    assert err.value.field == errors[0].field


def test_an_environment_directory_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as err:
        load_catalog([tmp_path / "missing"])
    assert err.value.field == "TICKETCLOCK_POLICY_DIRS"


def test_a_target_may_name_the_ticket_s_only_calendar(tmp_path: Path) -> None:
    directory = write(
        tmp_path / "d",
        "ch.toml",
        'id = "clickhouse"\noverride = true\n[targets.scale.sev2]\n'
        'first_response = { within = "2h", clock = "normal_business_hours" }\n',
    )
    sla = load_catalog([directory]).resolve(
        "clickhouse", "scale", "sev2", opened_at=datetime.fromisoformat("2026-11-27T23:30:00Z")
    )
    target = sla.target(Clock.first_response)
    assert target is not None and target.business and target.amount == timedelta(hours=2)
    # Fri 23:30Z: 30 min before Normal Business Hours close, then Mon 00:00Z + 90 min.
    due = sla.due(Clock.first_response, datetime.fromisoformat("2026-11-27T23:30:00Z"))
    assert due.due_at == datetime.fromisoformat("2026-11-30T01:30:00Z")
