"""Rules every catalogue file must follow (like the `holidays` library's per-country contract).

Run over every `policies/catalog/*.toml`: a new vendor file gets these checks for free.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from policies.catalog import BUILTIN_DIR, check_files, load_catalog
from policies.customer import Customer
from policies.errors import PolicyError
from policies.model import Policy, policy_problems
from policies.snapshot import Clock

FILES = sorted(BUILTIN_DIR.glob("*.toml"))
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
OPENED = datetime.fromisoformat("2026-06-10T10:00:00+00:00")


def raw(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def a_customer(policy: Policy) -> Customer:
    """Whatever the policy's calendar selection needs: a zone or the first region."""
    sel = policy.calendar_selection
    if sel.by == "customer_region":
        return Customer(region=sel.regions[0].label)
    return Customer(timezone="America/New_York")


def test_the_catalogue_has_the_five_seed_vendors() -> None:
    assert {p.stem for p in FILES} == {
        "confluent-cloud",
        "clickhouse",
        "kubeark",
        "kong",
        "confluence-health-check",
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_is_schema_valid_and_consistent(path: Path) -> None:
    policy = Policy.model_validate(raw(path))
    assert policy_problems(policy) == []
    assert path.stem == policy.id, "one file per policy, named after its id"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_file_names_its_seed_and_effective_date(path: Path) -> None:
    data = raw(path)
    assert re.fullmatch(r"\d{3}_[0-9a-f]{16}\.txt", data["seed"])
    assert data["version"].strip()
    effective = data["effective"]
    assert isinstance(effective, date) or effective == "undated"
    if not SEEDS.is_dir():
        pytest.skip("shared/seeds is not beside this checkout")
    seed_text = (SEEDS / data["seed"]).read_text()  # the seed file exists
    if isinstance(effective, date):
        # The seed states this date in words, e.g. "January 23, 2025" / "July 1, 2020".
        assert f"{effective:%B} {effective.day}, {effective.year}" in seed_text
    else:
        assert not re.search(r"Effective Date|Last Updated", seed_text), "a date was there"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_assumptions_are_visible_fields(path: Path) -> None:
    data = raw(path)
    for key in ("warnings", "reopen_window"):
        assert key in data, f"{key} must be spelled out in the file, not defaulted in code"
    for name, calendar in data["calendars"].items():
        for key in ("hours", "holidays", "business_day"):
            assert key in calendar, f"calendars.{name}.{key} must be spelled out"
    assert "ASSUMPTION" in path.read_text()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_tier_and_severity_has_a_first_response_or_says_why_not(path: Path) -> None:
    """Through `resolve`: a target, an explicit not-entitled reason, or 'not configured'."""
    catalog = load_catalog([])
    policy = catalog.get(path.stem)
    for tier in policy.tiers:
        for severity in policy.severity_ids():
            try:
                sla = catalog.resolve(
                    policy.id, tier, severity, a_customer(policy), opened_at=OPENED
                )
            except PolicyError as exc:
                assert exc.field == f"targets.{tier}.{severity}.first_response"
                assert "not configured" in exc.message
                continue
            terms = sla.terms(severity)
            if terms.entitled:
                target = terms.targets.get(Clock.first_response)
                assert target is not None, f"{tier}/{severity}"
                assert target.source, f"{tier}/{severity}: every target cites its clause"
            else:
                assert terms.not_entitled_reason, f"{tier}/{severity}: says why"
                assert sla.severity != severity


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_severities_are_ordered_and_aliases_resolve(path: Path) -> None:
    policy = load_catalog([]).get(path.stem)
    assert len({s.id for s in policy.severities}) == len(policy.severities)
    for sdef in policy.severities:
        for name in sdef.names():
            found = policy.find_severity(name.upper())
            assert found is not None and found.id == sdef.id


def test_catalogue_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "broken.toml"
    text = (BUILTIN_DIR / "kong.toml").read_text()
    text = text.replace('id = "kong"', 'id = "kong-broken"')
    text = text.replace('id = "sev3"', 'id = "Sev 3"')  # not an identifier
    bad.write_text(text)
    errors = check_files([bad], dirs=[])
    fields = [e.field for e in errors]
    assert f"{bad}: severities[2].id" in fields


def test_cross_reference_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "ch.toml"
    text = (BUILTIN_DIR / "clickhouse.toml").read_text().replace('id = "clickhouse"', 'id = "ch2"')
    text = text.replace('within = "1 business hour"', 'within = "one hour"')
    text = text.replace(
        'max_severity = "sev3"\nreason = "Basic', 'max_severity = "sev9"\nreason = "Basic'
    )
    bad.write_text(text)
    fields = {e.field: e.message for e in check_files([bad], dirs=[])}
    assert f"{bad}: targets.scale.sev1.first_response.within" in fields
    assert "not a duration" in fields[f"{bad}: targets.scale.sev1.first_response.within"]
    assert f"{bad}: tier_caps[0].max_severity" in fields


def test_a_missing_first_response_is_a_catalogue_error(tmp_path: Path) -> None:
    bad = tmp_path / "chc.toml"
    text = (BUILTIN_DIR / "confluence-health-check.toml").read_text()
    text = text.replace('id = "confluence-health-check"', 'id = "chc2"')
    text = text.replace('first_response = "3 business days"\n', "")
    bad.write_text(text)
    fields = [e.field for e in check_files([bad], dirs=[])]
    assert f"{bad}: targets.standard.sev4" in fields


def test_builtin_catalogue_checks_clean() -> None:
    assert check_files([], dirs=[]) == []
