"""Lifecycle rules are policy fields (issue 11 items 2 and 6), set in every catalogue file."""

from __future__ import annotations

import tomllib

import pytest

from policies.catalog import BUILTIN_DIR, load_catalog
from policies.customer import Customer
from policies.model import Policy, policy_problems
from policies.snapshot import Clock, LifecycleRules, ResolvedSla
from ticketclock.cli import main

POLICIES = sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))
KEYS = (
    "reopen_restarts",
    "reopen_restarts_source",
    "next_update_pauses_while_waiting",
    "next_update_pauses_source",
    "review_starts_at",
    "review_starts_source",
)


@pytest.mark.parametrize("policy_id", POLICIES)
def test_every_catalogue_file_sets_every_lifecycle_rule_with_a_source(policy_id: str) -> None:
    """Issue 11 item 6: no rule left to code defaults; each value has a clause or ASSUMPTION."""
    raw = tomllib.loads((BUILTIN_DIR / f"{policy_id}.toml").read_text())
    assert set(raw.get("lifecycle", {})) == set(KEYS)
    life = load_catalog(()).get(policy_id).lifecycle
    for name in ("reopen_restarts", "next_update_pauses", "review_starts"):
        source = getattr(life, f"{name}_source")
        assert source.startswith("ASSUMPTION: ") or source[0].isdigit(), source


def test_004_update_cadence_runs_while_waiting_on_the_customer() -> None:
    """004 section 4: "Customer updates are posted at least every 60 minutes until mitigation"."""
    sla = load_catalog(()).resolve("confluence-health-check", "standard", "sev1")
    assert sla.lifecycle.next_update_pauses_while_waiting is False
    assert "at least every 60 minutes until mitigation" in sla.lifecycle.next_update_pauses_source


def test_a_reopen_restarts_a_clock_in_every_catalogue_policy() -> None:
    """Issue 11 item 2: a reopened ticket runs an SLA; the policy names the clock."""
    catalog = load_catalog(())
    for policy_id in POLICIES:
        assert catalog.get(policy_id).lifecycle.reopen_restarts is Clock.first_response


def test_defaults_are_the_behaviour_before_the_fields_existed() -> None:
    """Recorded histories carry snapshots without `lifecycle`: they must load as they ran."""
    sla = load_catalog(()).resolve(
        "confluent-cloud", "premier", "p1", Customer(timezone="Europe/Berlin")
    )
    old = sla.model_dump(mode="json")
    del old["lifecycle"]
    replayed = ResolvedSla.model_validate(old)
    assert replayed.lifecycle == LifecycleRules()
    assert replayed.lifecycle.reopen_restarts is None
    assert replayed.lifecycle.next_update_pauses_while_waiting is True
    assert replayed.lifecycle.review_starts_at == "mitigation"


def test_toml_none_and_bad_reopen_clock_are_checked() -> None:
    base = load_catalog(()).get("kubeark").model_dump(mode="json")
    base["lifecycle"] = {"reopen_restarts": "none", "reopen_restarts_source": "ASSUMPTION: x"}
    assert Policy.model_validate(base).lifecycle.reopen_restarts is None
    base["lifecycle"] = {"reopen_restarts": "escalation_window", "review_starts_source": " "}
    problems = dict(policy_problems(Policy.model_validate(base)))
    assert "first_response, next_update or none" in problems["lifecycle.reopen_restarts"]
    assert "lifecycle.review_starts_source" in problems


def test_policy_show_prints_the_lifecycle_rules(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TICKETCLOCK_POLICY_DIRS", raising=False)
    assert main(["policy", "show", "confluence-health-check"]) == 0
    out = capsys.readouterr().out
    assert "reopen restarts: first_response - ASSUMPTION:" in out
    assert "next_update pauses while waiting on the customer: no - 4. Escalation Workflow" in out
    assert "review starts at: mitigation" in out
