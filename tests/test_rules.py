"""The ticket's rules core (`workflows.core.decide`), without Temporal.

Two parts:
- examples: each defect of issue 11 at the level of the rules, the copy-and-commit guarantee, the
  Markdown the UI shows, and a worst-case ticket whose carried state stays bounded;
- a stateful property test (hypothesis `RuleBasedStateMachine`) over every catalogue policy (and
  every lifecycle variant), random actions, random waits and clock firings, checking the
  invariants listed in `TicketMachine`'s docstring.

`Shell` plays the workflow's part: it computes deadlines with the real activity function
(`activities.deadlines.deadline_for`) and fires timers at their instants, exactly as the workflow
feeds them back through `decide`.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from activities.deadlines import deadline_for
from policies.catalog import load_catalog
from policies.customer import Customer
from policies.errors import PolicyError
from policies.snapshot import Clock, LifecycleRules, ResolvedSla
from tests.support.slas import quick_sla, target
from workflows import core, rules, views
from workflows.actions import ACTIONS, BY_NAME, RULES, ActionRoute
from workflows.messages import (
    Acknowledge,
    Action,
    AgentUpdate,
    AssignIncidentCommander,
    ChangeSeverity,
    Close,
    CompleteIntake,
    CompleteReview,
    CustomerReply,
    CycleStatus,
    EngineeringAck,
    Escalate,
    Mitigate,
    OpenReview,
    Reopen,
    RequestCustomerInfo,
    Resolve,
    TicketInput,
    TicketState,
    TicketStatus,
)

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # a Monday, inside most business hours


class Shell:
    """The workflow's part, synchronously: deadlines from the activity function, timers fired."""

    def __init__(self, sla: ResolvedSla, opened_at: datetime, intake: dict[str, str]) -> None:
        self.start = rules.new_state(
            TicketInput(key="K-1", sla=sla, opened_at=opened_at, intake=intake)
        )
        self.state = self.start
        self.now = opened_at
        self.log: list[tuple[Any, datetime, str]] = []
        self.decide(rules.Open())

    def decide(self, inp: Any, via: str = "update") -> core.Decision:
        decision = core.decide(self.state, inp, self.now, via)
        self.log.append((inp, self.now, via))
        if decision.state is not None:
            self.state = decision.state
        return decision

    def act(self, action: Action, via: str = "update") -> core.Decision:
        decision = self.decide(action, via)
        self.settle()
        return decision

    def settle(self) -> None:
        """What the cycle tasks do: compute every pending deadline, measure every ended cycle."""
        for _ in range(100):
            pending = [
                c
                for c in self.state.cycles
                if (c.active and c.computed_revision != c.revision)
                or (not c.active and c.business_used is None)
            ]
            if not pending:
                return
            c = pending[0]
            if c.active:
                request = rules.deadline_request(self.state, c, self.now, "start")
                result = deadline_for(request)
                self.decide(rules.DeadlineComputed(c.clock, c.cycle, c.revision, result, self.now))
            else:
                request = rules.deadline_request(self.state, c, c.ended_at or self.now, "measure")
                self.decide(rules.Measured(c.clock, c.cycle, deadline_for(request).used))
        raise AssertionError("the ticket never settled")

    def next_timer(self) -> tuple[datetime, Any] | None:
        best: tuple[datetime, Any] | None = None
        for c in self.state.cycles:
            if c.status != CycleStatus.running or c.due_at is None:
                continue
            at, warning = rules.next_event(c)
            inp = (
                rules.WarningFired(c.clock, c.cycle, warning.label)
                if warning is not None
                else rules.DueFired(c.clock, c.cycle)
            )
            if best is None or at < best[0]:
                best = (at, inp)
        return best

    def fire(self) -> bool:
        """The earliest timer fires (at its instant, or now if the worker was late)."""
        nxt = self.next_timer()
        if nxt is None:
            return False
        self.now = max(self.now, nxt[0])
        self.decide(nxt[1], "timer")
        self.settle()
        return True

    def replay(self) -> TicketState:
        """The same inputs at the same instants, from the same start."""
        state = self.start
        for inp, now, via in self.log:
            decision = core.decide(state, inp, now, via)
            if decision.state is not None:
                state = decision.state
        return state


def _sla(**kw: Any) -> ResolvedSla:
    lifecycle = kw.pop("lifecycle", None)
    sla = quick_sla(
        sev1={
            Clock.first_response: target(Clock.first_response, 600),
            Clock.next_update: target(Clock.next_update, 3600),
            Clock.customer_silence: target(Clock.customer_silence, 86400),
            Clock.post_incident_review: target(Clock.post_incident_review, 86400),
        },
        **kw,
    )
    return sla.model_copy(update={"lifecycle": lifecycle}) if lifecycle else sla


def _dump(s: TicketState) -> dict[str, Any]:
    return s.model_dump(mode="json")


# -- the defects, at the level of the rules ------------------------------------------------------
def test_late_acknowledge_is_accepted_and_recorded_with_its_lateness() -> None:
    shell = Shell(_sla(), T0, {})
    shell.settle()
    shell.now = T0 + timedelta(minutes=25)
    assert shell.fire()  # warning at 50%
    assert shell.fire()  # the breach
    assert views.breached_clocks(shell.state) == ["first_response"]
    decision = shell.act(Acknowledge(actor="agent:late"))
    assert decision.accepted, decision.refusal
    first = shell.state.cycles[0]
    assert first.status == CycleStatus.breached
    assert first.answered_at == T0 + timedelta(minutes=25)
    assert first.late_by == timedelta(minutes=15)
    assert shell.state.first_response_at == first.answered_at
    refused = shell.act(Acknowledge(actor="agent:again"))
    assert refused.refusal is not None and refused.refusal.type == "AlreadyAcknowledged"


def test_reopen_restarts_the_named_clock() -> None:
    lifecycle = LifecycleRules(reopen_restarts=Clock.first_response, reopen_restarts_source="t")
    shell = Shell(_sla(lifecycle=lifecycle), T0, {})
    shell.settle()
    assert shell.act(Acknowledge(actor="a")).accepted
    assert shell.act(Resolve(actor="a", solution="s")).accepted
    assert shell.act(Reopen(actor="c", reason="again")).accepted
    running = [(c.clock, c.cycle) for c in shell.state.cycles if c.active]
    assert (Clock.first_response, 2) in running
    assert shell.state.status == TicketStatus.awaiting_first_response


def test_an_eta_beyond_the_cadence_names_the_policy_bound() -> None:
    shell = Shell(_sla(), T0, {})
    shell.settle()
    eta = T0 + timedelta(hours=2)
    assert shell.act(Acknowledge(actor="a", next_update_eta=eta)).accepted
    update = rules.active_cycle(shell.state, Clock.next_update)
    assert update is not None and update.due_at == T0 + timedelta(hours=1)
    assert update.eta_note is not None and "3600s" in update.eta_note
    assert [e.action for e in shell.state.events].count("eta_beyond_policy") == 1


def test_a_malformed_signal_payload_is_a_refusal_naming_the_field() -> None:
    parsed = core.parse("acknowledge", {"actor": "ops:me", "mesage": "typo"})
    assert isinstance(parsed, rules.Refusal) and parsed.type == "InvalidPayload"
    assert "mesage" in parsed.message
    assert isinstance(core.parse("acknowledge", {"actor": "ops:me"}), Acknowledge)
    unknown = core.parse("nope", {})
    assert isinstance(unknown, rules.Refusal) and unknown.type == "UnknownAction"


def test_an_exception_inside_an_action_leaves_the_ticket_exactly_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Item 5: apply works on a copy; a bug half-way drops the copy (InternalError)."""
    shell = Shell(_sla(), T0, {})
    shell.settle()
    assert shell.act(Acknowledge(actor="a")).accepted
    before = _dump(shell.state)

    def half_then_bug(x: rules.Ctx, a: Mitigate) -> None:
        rules.apply_mitigate(x, a)  # stops next_update, sets mitigated_at, starts the review
        raise RuntimeError("bug after the changes")

    broken: ActionRoute = dataclasses.replace(RULES[Mitigate], apply=half_then_bug)
    action: type[Action] = Mitigate
    monkeypatch.setitem(RULES, action, broken)
    decision = shell.act(Mitigate(actor="a"))
    assert decision.refusal is not None and decision.refusal.type == "InternalError"
    assert "bug after the changes" in decision.refusal.message
    assert _dump(shell.state) == before


def test_the_cadence_pause_and_the_review_start_follow_the_policy() -> None:
    for pauses in (True, False):
        lifecycle = LifecycleRules(
            next_update_pauses_while_waiting=pauses, review_starts_at="resolution"
        )
        shell = Shell(_sla(lifecycle=lifecycle), T0, {})
        shell.settle()
        shell.act(Acknowledge(actor="a"))
        shell.act(RequestCustomerInfo(actor="a"))
        update = rules.active_cycle(shell.state, Clock.next_update)
        assert update is not None
        assert update.status == (CycleStatus.paused if pauses else CycleStatus.running)
        shell.act(Mitigate(actor="a"))
        assert rules.latest_cycle(shell.state, Clock.post_incident_review) is None
        shell.act(Resolve(actor="a", solution="s"))
        assert rules.active_cycle(shell.state, Clock.post_incident_review) is not None


CORE_MODULES = ("keys", "messages", "rules", "actions", "core", "views")


def test_the_core_is_pure() -> None:
    """No Temporal (nor anything of ours but policies and the core itself) in the core modules."""
    import ast

    folder = Path(__file__).resolve().parents[1] / "workflows"
    for name in CORE_MODULES:
        tree = ast.parse((folder / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for imported in names:
                top = imported.split(".")[0]
                assert top != "temporalio", f"workflows/{name}.py imports {imported}"
                if top in ("api", "activities", "plumbing", "ticketclock", "harness"):
                    raise AssertionError(f"workflows/{name}.py imports {imported}")
                # The shell (and Temporal through it) never comes back into the core.
                assert imported != "workflows.ticket", f"workflows/{name}.py imports the shell"


def test_the_action_table_is_the_only_dispatch() -> None:
    for route in ACTIONS:
        assert RULES[route.model] is route and BY_NAME[route.update] is route
    assert len({route.update for route in ACTIONS}) == len(ACTIONS) >= 15
    assert not hasattr(rules, "getattr_dispatch")


# -- what the Temporal UI shows -----------------------------------------------------------------
def _cells(row: str) -> list[str]:
    """A GFM table row's cells: split on pipes not escaped by a backslash."""
    assert row.startswith("| ") and row.endswith(" |"), row
    return re.split(r"(?<!\\)\|", row[1:-1])


def test_details_are_a_real_markdown_table_with_user_text_escaped() -> None:
    sla = _sla(hours=None)
    inp = TicketInput(
        key="K-1",
        sla=sla,
        opened_at=T0,
        subject="Down | *everything* [link](http://x) `code`",
        channel="email|chat <b>",
        product="_kafka_ #1",
    )
    shell = Shell(sla, T0, {})
    shell.start = shell.state = rules.new_state(inp)
    shell.decide(rules.Open())
    shell.settle()
    text = views.details_markdown(shell.state)
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| clock"))
    table = lines[header:]
    assert len(table) == 3
    assert [c.strip() for c in _cells(table[0])] == ["clock", "#", "status", "due", "target"]
    # The UI draws tables without padding: every cell but the last keeps a visible gap.
    for row in (table[0], table[2]):
        assert all(c.rstrip(" ").endswith(views.CELL_GAP) for c in _cells(row)[:-1]), row
    assert all(set(c.strip()) == {"-"} for c in _cells(table[1]))
    assert [c.strip() for c in _cells(table[2])][:3] == ["first_response", "1", "running"]
    assert lines[header - 1] == ""  # a blank line before the table, or it is not a table
    for raw in ("Down | *everything*", "email|chat", "<b>", "_kafka_", "`code`"):
        assert raw not in text
    assert r"Down \| \*everything\* \[link\]\(http://x\) \`code\`" in text
    assert r"email\|chat \<b\>" in text and r"\_kafka\_ \#1" in text


def test_breached_clocks_stand_out_in_the_details() -> None:
    shell = Shell(_sla(hours=None), T0, {})
    shell.settle()
    before = views.details_markdown(shell.state)
    assert "BREACHED" not in before and "**breached**" not in before
    while not views.breached_clocks(shell.state):
        assert shell.fire()
    text = views.details_markdown(shell.state)
    lines = text.splitlines()
    # A banner above the table names the breached clocks...
    header = next(i for i, line in enumerate(lines) if line.startswith("| clock"))
    assert any("**BREACHED: first_response**" in line for line in lines[:header])
    # ...and the breached row's status cell is emphasised, still one cell of a real table.
    [row] = [line for line in lines[header + 2 :] if line.startswith("| first_response")]
    cells = [c.strip() for c in _cells(row)]
    assert len(cells) == 5 and cells[2].endswith("**breached**")


# -- a worst-case ticket stays bounded (issue 12 item 2) ---------------------------------------
# Input bounds enforced at the API: intake <= 50 fields x 4 KiB, actor <= 200, messages <= 2000.
CARRIED_BOUND = 512 * 1024


def test_thousands_of_actions_keep_the_carried_state_bounded() -> None:
    intake = {f"field_{i:02d}": "x" * 4096 for i in range(50)}
    shell = Shell(_sla(), T0, intake)
    shell.state = shell.state.model_copy(update={"subject": "s" * 200})
    shell.settle()
    actor, message = "a" * 200, "m" * 2000
    shell.act(Acknowledge(actor=actor, message=message))
    sizes = []
    for i in range(3000):
        shell.now += timedelta(minutes=7)
        match i % 5:
            case 0:
                shell.act(RequestCustomerInfo(actor=actor, message=message))
            case 1:
                shell.act(CustomerReply(actor=actor, message=message))
            case 2:
                shell.act(
                    ChangeSeverity(
                        actor=actor, severity="sev3" if i % 2 else "sev1", reason=message
                    )
                )
            case _:
                shell.act(AgentUpdate(actor=actor, message=message))
        if i % 500 == 0:
            carried = TicketInput(
                key=shell.state.key,
                sla=shell.state.sla,
                opened_at=shell.state.opened_at,
                state=shell.state,
            )
            sizes.append(len(carried.model_dump_json().encode()))
    assert len(shell.state.events) == rules.MAX_LEDGER_EVENTS
    per_clock = {c: sum(1 for x in shell.state.cycles if x.clock == c) for c in Clock}
    assert max(per_clock.values()) <= rules.ENDED_CYCLES_KEPT + 1
    assert max(sizes) < CARRIED_BOUND, sizes
    assert sizes[-1] - sizes[1] < 16 * 1024, sizes  # flat, not growing with the actions


# -- the property test ----------------------------------------------------------------------------
LIFECYCLES = (
    None,  # as the catalogue file says
    LifecycleRules(reopen_restarts=None, next_update_pauses_while_waiting=True),
    LifecycleRules(reopen_restarts=Clock.next_update, next_update_pauses_while_waiting=False),
    LifecycleRules(reopen_restarts=Clock.first_response, review_starts_at="resolution"),
)


KONG_CONTRACT = Path(__file__).parent / "fixtures" / "policies"
CUSTOMERS = (
    Customer(),
    Customer(timezone="America/Chicago"),
    Customer(timezone="America/Chicago", region="North/South America"),
    Customer(timezone="Europe/Bucharest", region="EMEA"),
)


@cache
def catalogue_slas() -> tuple[ResolvedSla, ...]:
    """Every catalogue policy, each tier and severity it entitles (resolved once). Kong's seed
    has no response times: its test override supplies them, as a deployment's file would."""
    catalog = load_catalog([str(KONG_CONTRACT)])
    out: list[ResolvedSla] = []
    for pid in catalog.ids():
        policy = catalog.get(pid)
        for tier, severity in itertools.product(policy.tiers, policy.severities):
            for customer in CUSTOMERS:
                try:
                    sla = catalog.resolve(pid, tier, severity.id, customer, opened_at=T0)
                except PolicyError:
                    continue
                if sla.severity == severity.id:
                    out.append(sla)
                break
    return tuple(out)


def test_every_catalogue_policy_is_in_the_property_test() -> None:
    ids = {sla.policy_id for sla in catalogue_slas()}
    assert ids == set(load_catalog().ids())


ETAS = (None, timedelta(minutes=20), timedelta(hours=3), timedelta(minutes=-5))
NAMES = tuple(route.update for route in ACTIONS)


class TicketMachine(RuleBasedStateMachine):
    """Random actions, waits and clock firings on one ticket. Invariants:

    - a refused action leaves the state exactly as it was;
    - acknowledge is accepted iff no first response has been given (breached or not), other
      preconditions (open, intake complete, a valid ETA) holding;
    - at most one running (or paused) cycle per clock; an ended cycle never changes its status
      or end instant again, so a breached cycle stays breached;
    - a response the policy says is owed has its clock running (or breached and unanswered),
      and a running cadence is owed: "owed" comes from `Model`, a restatement from the policy's
      fields (targets, lifecycle) and the accepted actions, not from the code under test;
    - the same inputs at the same instants give the same state (determinism);
    - every computed deadline equals `ResolvedSla.due` for the cycle's start, pauses and
      severity (or the promised ETA when earlier): the calendar is the oracle.
    """

    def __init__(self) -> None:
        super().__init__()
        self.shell: Shell
        self.ended: dict[tuple[Clock, int], tuple[CycleStatus, datetime | None]] = {}
        self.responded = False
        self.cadence = False
        self.mitigated = False
        self.waiting = False
        self.closed = False

    @initialize(
        sla=st.sampled_from(catalogue_slas()),
        lifecycle=st.sampled_from(LIFECYCLES),
        intake_given=st.booleans(),
        opened=st.integers(0, 7 * 24 * 60),
    )
    def open(
        self, sla: ResolvedSla, lifecycle: LifecycleRules | None, intake_given: bool, opened: int
    ) -> None:
        if lifecycle is not None:
            sla = sla.model_copy(update={"lifecycle": lifecycle})
        intake = {f: "given" for f in sla.intake_required} if intake_given else {}
        self.shell = Shell(sla, T0 + timedelta(minutes=opened), intake)
        self.shell.settle()

    # -- the model: what the policy says is owed ................................................
    @property
    def lifecycle(self) -> LifecycleRules:
        return self.shell.state.sla.lifecycle

    def _observe(self, name: str) -> None:
        """Update the model after an accepted action (from the action and the policy only)."""
        if name in ("acknowledge", "agent_update", "request_customer_info", "resolve"):
            self.responded = True
        public = name in ("acknowledge", "agent_update", "request_customer_info")
        if public and not self.mitigated and not self.closed:
            self.cadence = True
        if name == "request_customer_info":
            self.waiting = True
        if name == "customer_reply":
            self.waiting = False
        if name in ("mitigate", "resolve"):
            self.mitigated = True
            self.cadence = False
        if name == "resolve":
            self.waiting = False
        if name == "close":
            self._closed()
        if name == "reopen":
            self.closed = self.mitigated = self.waiting = False
            # A reopen restarts what the policy names; a ticket never answered owes its first
            # response first (and the cadence follows a response).
            restarts = self.lifecycle.reopen_restarts
            self.cadence = restarts == Clock.next_update and self.responded
            if restarts == Clock.first_response:
                self.responded = False

    def _closed(self) -> None:
        self.closed = True
        self.cadence = self.waiting = False

    # -- rules ...................................................................................
    @rule(
        name=st.sampled_from(NAMES),
        eta=st.sampled_from(ETAS),
        severity=st.sampled_from(("sev1", "sev3", "p2", "nope")),
        fill=st.booleans(),
        via=st.sampled_from(("update", "signal")),
    )
    def act(self, name: str, eta: timedelta | None, severity: str, fill: bool, via: str) -> None:
        shell = self.shell
        when = shell.now + eta if eta is not None else None
        sla = shell.state.sla
        severities = [t.severity for t in sla.severities]
        if severity in ("sev1", "sev3") and severities:
            severity = severities[0] if severity == "sev1" else severities[-1]
        payloads: dict[str, Action] = {
            "acknowledge": Acknowledge(actor="a", next_update_eta=when),
            "agent_update": AgentUpdate(actor="a", next_update_eta=when),
            "request_customer_info": RequestCustomerInfo(actor="a"),
            "customer_reply": CustomerReply(actor="c"),
            "complete_intake": CompleteIntake(
                actor="a", fields={f: "v" for f in sla.intake_required} if fill else {}
            ),
            "engineering_ack": EngineeringAck(actor="e"),
            "assign_incident_commander": AssignIncidentCommander(actor="e", commander="m"),
            "change_severity": ChangeSeverity(actor="a", severity=severity, reason="r"),
            "mitigate": Mitigate(actor="e"),
            "resolve": Resolve(actor="a", solution="s"),
            "reopen": Reopen(actor="c", reason="r"),
            "close": Close(actor="a"),
            "open_review": OpenReview(actor="e"),
            "complete_review": CompleteReview(actor="e"),
            "escalate": Escalate(actor="c", reason="r"),
        }
        before = shell.state
        dumped = _dump(before)
        responded_before = self.responded
        decision = shell.act(payloads[name], via)
        if decision.refusal is not None:
            assert decision.state is None
            assert shell.state is before and _dump(shell.state) == dumped, "refusal changed state"
        else:
            self._observe(name)
        if name == "acknowledge":
            self._check_acknowledge(decision, before, when, responded_before)

    def _check_acknowledge(
        self,
        decision: core.Decision,
        before: TicketState,
        eta: datetime | None,
        responded: bool,
    ) -> None:
        other = (
            before.status in (TicketStatus.closed, TicketStatus.intake_incomplete)
            or (eta is not None and eta <= self.shell.now)
            or (eta is None and before.sla.terms().eta_required)
        )
        if other:
            return
        # Accepted exactly when no first response was given before, breached or not.
        assert decision.accepted == (not responded), (responded, decision.refusal)
        if decision.refusal is not None:
            assert decision.refusal.type == "AlreadyAcknowledged", decision.refusal

    @rule(minutes=st.integers(1, 3 * 24 * 60))
    def wait(self, minutes: int) -> None:
        """Time passes; the worker may be late (no timer fired yet)."""
        self.shell.now += timedelta(minutes=minutes)

    @rule()
    def fire(self) -> None:
        nxt = self.shell.next_timer()
        silence = nxt is not None and (
            isinstance(nxt[1], rules.DueFired) and nxt[1].clock == Clock.customer_silence
        )
        self.shell.fire()
        if silence:
            self._closed()  # the customer stayed silent: the policy auto-closes

    @precondition(lambda self: self.shell.next_timer() is not None)
    @rule(n=st.integers(1, 6))
    def fire_several(self, n: int) -> None:
        for _ in range(n):
            self.fire()

    # -- invariants ..............................................................................
    @invariant()
    def one_running_cycle_per_clock(self) -> None:
        for clock in Clock:
            active = [c for c in self.shell.state.cycles if c.clock == clock and c.active]
            assert len(active) <= 1, (clock, active)

    @invariant()
    def cycles_end_once(self) -> None:
        for c in self.shell.state.cycles:
            key = (c.clock, c.cycle)
            if c.active:
                assert key not in self.ended, f"{key} ended, then ran again"
                continue
            seen = self.ended.setdefault(key, (c.status, c.ended_at))
            assert seen == (c.status, c.ended_at), (key, seen, c.status, c.ended_at)

    @invariant()
    def owed_responses_have_their_clock(self) -> None:
        s = self.shell.state
        sla = s.sla
        intake_done = s.status != TicketStatus.intake_incomplete
        fr_owed = not self.responded and not self.closed and intake_done
        fr = rules.active_cycle(s, Clock.first_response)
        if fr_owed and sla.target(Clock.first_response) is not None:
            assert fr is not None or rules.unanswered_breach(s, Clock.first_response), s.status
        if fr is not None:
            assert fr_owed, "first_response runs but no first response is owed"
        pauses = self.lifecycle.next_update_pauses_while_waiting
        cadence_owed = self.cadence and not (self.waiting and pauses)
        nu = rules.active_cycle(s, Clock.next_update)
        if cadence_owed and sla.target(Clock.next_update) is not None:
            assert (
                nu is not None
                and nu.status == CycleStatus.running
                or (rules.unanswered_breach(s, Clock.next_update))
            ), (self.cadence, self.waiting, nu)
        if nu is not None and nu.status == CycleStatus.running:
            assert cadence_owed, "next_update runs but no update is owed"

    @invariant()
    def deadlines_are_the_calendars(self) -> None:
        s = self.shell.state
        for c in s.cycles:
            if not c.active or c.status == CycleStatus.paused or c.computed_revision != c.revision:
                continue
            paused = [(p.start, p.end) for p in c.paused]
            due = s.sla.due(c.clock, c.started_at, paused, severity=c.severity).due_at
            if c.eta is not None and due is not None and c.eta < due:
                due = c.eta
            assert c.due_at == due, (c.clock, c.cycle, c.due_at, due)

    def teardown(self) -> None:
        if hasattr(self, "shell"):
            assert _dump(self.shell.replay()) == _dump(self.shell.state), "not deterministic"


# A few thousand steps by default (1000 tickets x up to 25 steps); `--hypothesis-profile long`
# runs 3000 tickets of up to 40 steps.
_DEFAULT = settings.default
assert _DEFAULT is not None  # hypothesis always has a loaded profile
_LONG = _DEFAULT.max_examples > 1000
TicketMachine.TestCase.settings = settings(
    max_examples=_DEFAULT.max_examples if _LONG else 1000,
    stateful_step_count=40 if _LONG else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_ticket_rules = TicketMachine.TestCase


# -- issue 15: a redelivered event (same source event id) changes nothing, across runs ----------
def _carried(state: TicketState) -> TicketState:
    """What continue-as-new does to the state: out as a payload, back in a new run."""
    return TicketState.model_validate(state.model_dump())


def _continue_as_new(shell: Shell) -> None:
    shell.state = _carried(shell.state)
    assert shell.decide(rules.Continued()).accepted


def test_a_redelivered_event_changes_nothing_after_later_events_and_continue_as_new() -> None:
    shell = Shell(_sla(), T0, {})
    shell.settle()
    ask = RequestCustomerInfo(actor="agent:1", event_id="zendesk:e-ask")
    reply = CustomerReply(actor="customer:1", event_id="zendesk:e-reply")
    assert shell.act(ask).accepted
    assert shell.act(reply).accepted
    # Many later events, time passing and clocks firing, two continue-as-news among them.
    for i in range(40):
        eta = shell.now + timedelta(minutes=30)
        update = AgentUpdate(actor="agent:1", next_update_eta=eta, event_id=f"zendesk:u{i}")
        assert shell.act(update).accepted
        shell.now += timedelta(minutes=7)
        if i % 13 == 12:
            _continue_as_new(shell)
    assert shell.state.runs == 4
    assert shell.state.status.value == "in_progress"
    before = _dump(shell.state)
    # The redeliveries, oldest first: each one refused as a duplicate, the state untouched
    # (asking again would put the ticket back to waiting on the customer).
    for again in (ask, reply, AgentUpdate(actor="agent:1", event_id="zendesk:u3")):
        decision = shell.act(again)
        assert decision.refusal is not None and decision.refusal.type == "DuplicateEvent"
        assert again.event_id is not None and again.event_id in decision.refusal.message
        assert _dump(shell.state) == before
    # The Update validator (`core.check`) says the same, before anything enters history.
    refusal = core.check(shell.state, ask, shell.now)
    assert refusal is not None and refusal.type == "DuplicateEvent"
    # The source event id is no ledger detail.
    assert not any("zendesk:" in (e.detail or "") for e in shell.state.events)
    # A new event is judged as usual.
    assert shell.act(RequestCustomerInfo(actor="agent:1", event_id="zendesk:e-ask-2")).accepted
    assert shell.state.status == TicketStatus.waiting_on_customer


def test_the_ticket_remembers_its_latest_applied_event_ids_only() -> None:
    shell = Shell(_sla(), T0, {})
    shell.settle()
    n = rules.MAX_APPLIED_EVENT_IDS + 44
    for i in range(n):
        assert shell.act(CustomerReply(actor="c", event_id=f"jira:{i}")).accepted
    remembered = shell.state.applied_event_ids
    assert remembered == [f"jira:{i}" for i in range(44, n)], "the latest, oldest first"
    assert _carried(shell.state).applied_event_ids == remembered
    # The oldest forgotten: judged again; the latest: a duplicate.
    assert shell.act(CustomerReply(actor="c", event_id="jira:0")).accepted
    last = shell.act(CustomerReply(actor="c", event_id=f"jira:{n - 1}"))
    assert last.refusal is not None and last.refusal.type == "DuplicateEvent"
    # A refused event is not remembered (a refused Update never enters history): judged again.
    shell.act(Close(actor="a", event_id="jira:close"))
    late = CustomerReply(actor="c", event_id="jira:late")
    first = shell.act(late)
    assert first.refusal is not None and first.refusal.type == "TicketClosed"
    assert "jira:late" not in shell.state.applied_event_ids
    # Actions without an id (the HTTP API's, by default) are never duplicates.
    assert shell.act(Reopen(actor="c", reason="r")).accepted
    assert shell.act(CustomerReply(actor="c")).accepted
    assert shell.act(CustomerReply(actor="c")).accepted


def test_a_state_carried_before_event_ids_existed_decodes_with_none() -> None:
    shell = Shell(_sla(), T0, {})
    shell.settle()
    old = shell.state.model_dump(mode="json")
    del old["applied_event_ids"]
    carried = TicketState.model_validate(old)
    assert carried.applied_event_ids == []
    old_action = {"actor": "agent:1"}  # an Update payload from before `event_id`
    assert Acknowledge.model_validate(old_action).event_id is None
    with pytest.raises(ValueError, match="event_id"):
        Acknowledge(actor="a", event_id="x" * 257)


class StampingShell(Shell):
    """A Shell whose actions come from a helpdesk: each new one gets a fresh source event id;
    the applied ones are kept, to be redelivered."""

    def __init__(self, sla: ResolvedSla, opened_at: datetime, intake: dict[str, str]) -> None:
        super().__init__(sla, opened_at, intake)
        self.sequence = 0
        self.applied: list[tuple[Action, str]] = []

    def act(self, action: Action, via: str = "update") -> core.Decision:
        if action.event_id is None:
            self.sequence += 1
            action = action.model_copy(update={"event_id": f"helpdesk:{self.sequence}"})
        decision = super().act(action, via)
        if decision.accepted:
            self.applied.append((action, via))
        return decision


class RedeliveryMachine(TicketMachine):
    """`TicketMachine`'s rules and invariants with every action carrying a source event id, and
    two rules more: a redelivery of an applied event is refused as `DuplicateEvent` and leaves
    the state exactly as it was (so "accepted" keeps meaning "took effect", which the model of
    `TicketMachine` relies on), and a continue-as-new carries what the ticket remembers."""

    shell: StampingShell

    @initialize(
        sla=st.sampled_from(catalogue_slas()),
        lifecycle=st.sampled_from(LIFECYCLES),
        intake_given=st.booleans(),
        opened=st.integers(0, 7 * 24 * 60),
    )
    def open(
        self, sla: ResolvedSla, lifecycle: LifecycleRules | None, intake_given: bool, opened: int
    ) -> None:
        if lifecycle is not None:
            sla = sla.model_copy(update={"lifecycle": lifecycle})
        intake = {f: "given" for f in sla.intake_required} if intake_given else {}
        self.shell = StampingShell(sla, T0 + timedelta(minutes=opened), intake)
        self.shell.settle()

    @precondition(lambda self: bool(self.shell.applied))
    @rule(pick=st.integers(0, 10**6))
    def redeliver(self, pick: int) -> None:
        shell = self.shell
        action, via = shell.applied[pick % len(shell.applied)]
        before = shell.state
        dumped = _dump(before)
        decision = shell.act(action, via)
        assert decision.refusal is not None and decision.refusal.type == "DuplicateEvent"
        assert shell.state is before and _dump(shell.state) == dumped, "a redelivery changed it"

    @rule()
    def continue_as_new(self) -> None:
        _continue_as_new(self.shell)

    @invariant()
    def remembers_the_latest_applied_events(self) -> None:
        ids = [a.event_id for a, _ in self.shell.applied]
        assert self.shell.state.applied_event_ids == ids[-rules.MAX_APPLIED_EVENT_IDS :]


RedeliveryMachine.TestCase.settings = settings(
    max_examples=_DEFAULT.max_examples if _LONG else 300,
    stateful_step_count=40 if _LONG else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_redeliveries = RedeliveryMachine.TestCase
