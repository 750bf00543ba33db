"""The pure parts of issue 17: the catalogue's versions side by side, the candidate's validation,
the what-if replay and judge, and the rules core judging a late timer's cycle by instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from policies.catalog import Catalog, load_catalog, parse_candidate
from policies.errors import PolicyError
from policies.snapshot import Clock
from workflows import core, rules
from workflows.deadlines import deadline_for
from workflows.messages import (
    Acknowledge,
    ChangeSeverity,
    CycleStatus,
    EngineeringAck,
    TicketInput,
)
from workflows.whatif import RecordedAction, _Shell, judge, replay

POLICIES = Path(__file__).parent / "fixtures" / "whatif_policies"
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def catalog() -> Catalog:
    return load_catalog([str(POLICIES)])


def test_versions_side_by_side_and_the_one_in_effect() -> None:
    c = catalog()
    assert [p.version for p in c.versions("whatif-test")] == ["v1", "v2"]
    assert c.get("whatif-test", at=datetime(2026, 1, 31, tzinfo=UTC)).version == "v1"
    assert c.get("whatif-test", at=datetime(2026, 2, 1, tzinfo=UTC)).version == "v2"
    assert c.get("whatif-test", at=datetime(2025, 6, 1, tzinfo=UTC)).version == "v1"  # earliest
    sla = c.resolve("whatif-test", "gold", "sev1", opened_at=T0)
    assert sla.policy_version == "v2"
    assert sla.target(Clock.first_response).text == "5m"  # type: ignore[union-attr]
    old = c.resolve("whatif-test", "gold", "sev1", opened_at=T0, version="v1")
    assert old.policy_version == "v1"
    assert old.target(Clock.first_response).text == "20m"  # type: ignore[union-attr]
    with pytest.raises(PolicyError) as err:
        c.get("whatif-test", version="v9")
    assert err.value.field == "version"


def test_a_new_version_needs_its_own_version_and_a_day(tmp_path: Path) -> None:
    base = (POLICIES / "whatif-test-1.toml").read_text()
    (tmp_path / "a.toml").write_text(base)
    (tmp_path / "b.toml").write_text('id = "whatif-test"\nnew_version = true\nversion = "v1"\n')
    with pytest.raises(PolicyError) as err:
        load_catalog([str(tmp_path)])
    assert err.value.field == "b.toml: version" or err.value.field.endswith("b.toml: version")
    (tmp_path / "b.toml").write_text('id = "whatif-test"\nnew_version = true\nversion = "v3"\n')
    with pytest.raises(PolicyError) as err:
        load_catalog([str(tmp_path)])
    assert err.value.field.endswith("b.toml: effective_from")


def test_a_candidate_is_validated_like_a_catalogue_file() -> None:
    text = (POLICIES / "whatif-test-1.toml").read_text()
    assert parse_candidate(text).version == "v1"
    with pytest.raises(PolicyError) as err:
        parse_candidate(text.replace('first_response = "20m"', 'first_response = "soon"'))
    assert err.value.field == "candidate: targets.gold.sev1.first_response.within"
    with pytest.raises(PolicyError) as err:
        parse_candidate("id = 'x'\noverride = true\n")
    assert err.value.field.startswith("candidate: override")


def _input(severity: str = "sev1", version: str = "v2") -> TicketInput:
    sla = catalog().resolve("whatif-test", "gold", severity, opened_at=T0, version=version)
    return TicketInput(key="K-1", sla=sla, opened_at=T0)


def test_an_action_after_a_deadline_whose_timer_is_late_keeps_the_breach() -> None:
    """Found by the faithfulness test: the incident_commander timer (2 s) fired 357 ms late on a
    busy worker, a severity change to a severity without that target came in between and
    *stopped* the cycle: its breach was lost. Fails on the code before this commit."""
    shell = _Shell(_input(), T0, deadline=deadline_for)
    shell.now = T0 + timedelta(seconds=1)
    shell.decide(Acknowledge(actor="a"))
    shell.settle()
    shell.decide(EngineeringAck(actor="e"))
    shell.settle()
    ic = next(c for c in shell.state.cycles if c.clock == Clock.incident_commander)
    assert ic.due_at == T0 + timedelta(seconds=3)
    # No timer fired: the change comes 0.4 s after the deadline.
    decision = core.decide(
        shell.state,
        ChangeSeverity(actor="a", severity="sev2", reason="r"),
        T0 + timedelta(seconds=3.4),
    )
    assert decision.state is not None
    ic = next(c for c in decision.state.cycles if c.clock == Clock.incident_commander)
    assert ic.status == CycleStatus.breached
    assert ic.breached_at == T0 + timedelta(seconds=3)


def test_the_old_rule_stays_available_for_histories_recorded_before_it() -> None:
    """Replaying a history recorded before overdue cycles were breached ahead of an action must
    make the same commands: the workflow passes `breach_overdue=False` there (a patch marker
    decides, see workflows/ticket.py), and the core then takes the action as it did."""
    shell = _Shell(_input(), T0, deadline=deadline_for)
    shell.now = T0 + timedelta(seconds=1)
    shell.decide(Acknowledge(actor="a"))
    shell.settle()
    shell.decide(EngineeringAck(actor="e"))
    shell.settle()
    change = ChangeSeverity(actor="a", severity="sev2", reason="r")
    late = T0 + timedelta(seconds=3.4)
    new = core.decide(shell.state, change, late)
    old = core.decide(shell.state, change, late, breach_overdue=False)
    assert new.state is not None and old.state is not None
    ic_new = next(c for c in new.state.cycles if c.clock == Clock.incident_commander)
    ic_old = next(c for c in old.state.cycles if c.clock == Clock.incident_commander)
    assert ic_new.status == CycleStatus.breached and ic_old.status != CycleStatus.breached
    assert any(isinstance(e, rules.Notify) for e in new.effects)
    assert not any(isinstance(e, rules.Notify) for e in old.effects)


def test_replay_and_judge() -> None:
    inp = _input("sev2", "v1")  # first response 60m
    acts = [RecordedAction(T0 + timedelta(minutes=30), "acknowledge", Acknowledge(actor="a"))]
    as_of = T0 + timedelta(hours=3)
    actual = replay(inp, T0, acts, inp.sla, as_of)
    fr = next(c for c in actual if c.clock == Clock.first_response)
    assert judge(fr, as_of) == "met"
    assert judge(fr, T0 + timedelta(minutes=10)) == "open"  # as of before the answer
    tight = catalog().resolve("whatif-test", "gold", "sev2", opened_at=T0, version="v2")  # 15m
    candidate = replay(inp, T0, acts, tight, as_of)
    fr = next(c for c in candidate if c.clock == Clock.first_response)
    assert judge(fr, as_of) == "breached"
    assert fr.due_at == T0 + timedelta(minutes=15)
    assert fr.answered_at == T0 + timedelta(minutes=30)
    # Judged as of before the action: the replay stops there, the deadline has passed.
    early = replay(inp, T0, acts, tight, T0 + timedelta(minutes=20))
    fr = next(c for c in early if c.clock == Clock.first_response)
    assert judge(fr, T0 + timedelta(minutes=20)) == "breached"
    # ... and one not yet due is open.
    fr = next(c for c in replay(inp, T0, [], tight, T0 + timedelta(minutes=5)))
    assert judge(fr, T0 + timedelta(minutes=5)) == "open"


def test_migrate_refuses_a_rate_of_zero_before_asking_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ticketclock.cli import main

    monkeypatch.setenv("TICKETCLOCK_API_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("TICKETCLOCK_TOKEN", "some-token-0123456789")
    assert main(["policy", "migrate", "kong", "--to-version", "v2", "--rate", "0"]) == 2
    assert "--rate: must be more than 0" in capsys.readouterr().err
