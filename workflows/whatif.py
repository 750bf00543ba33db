"""What-if: a ticket's recorded actions replayed under a candidate policy, pure.

`replay` plays the workflow shell's part outside Temporal, exactly as `TicketWorkflow` does: the
opening, then each recorded agent action at the instant the workflow decided it, through the same
`core.decide`; every deadline from the same arithmetic as the `compute_deadline` activity
(`workflows.deadlines.deadline_for`); every timer (warning, due) fired at its instant before any
later action, an action at the very instant of a deadline judged first (as the shell lets Updates
of the same workflow task act before a timer). Only the snapshot differs: the candidate's.

`judge` reads one clock cycle as of an instant (`--to` or now, whichever is earlier): met, breached
(a deadline passed with no answer is a breach), open (not yet due), or nothing (stopped, expired,
not started yet). `compare` judges the tickets' real cycles and the candidate's the same way and
counts them per rank, tier and severity.

Never imported by the workflow shell (business time runs here). The history reading that feeds it
is `api/whatif.py`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from policies.customer import Customer
from policies.model import Policy
from policies.resolve import resolve_policy
from policies.snapshot import Clock, ResolvedSla
from workflows import core, rules
from workflows.deadlines import deadline_for
from workflows.messages import (
    Action,
    ClockCycle,
    CycleStatus,
    DeadlineRequest,
    DeadlineResult,
    TicketInput,
    TicketState,
)

Deadlines = Callable[[DeadlineRequest], DeadlineResult]
Outcome = Literal["met", "breached", "open"]
# The clocks whose outcome is the vendor's: the customer's silence and the escalation window are
# the customer's side (they expire, they are never met or breached by an agent).
JUDGED = frozenset(rules.SLA_CLOCKS - {Clock.customer_silence})
# Updates that are no agent action of the ticket's rules (or that a candidate replaces).
NOT_REPLAYED = frozenset({"opened", "migrate"})


@dataclass(frozen=True)
class RecordedAction:
    """One agent action as the ticket's history recorded it, at the instant it was decided."""

    at: datetime
    name: str  # the Update / Signal name (`acknowledge`, ...)
    payload: Action
    via: Literal["update", "signal"] = "update"


@dataclass
class TicketRecord:
    """What history says about one ticket: how it opened, what agents did, what it recorded."""

    key: str
    start: TicketInput  # the first run's input (its snapshot: the version it resolved)
    started_at: datetime  # when the first run started (the opening was decided then)
    actions: list[RecordedAction]
    # Every clock cycle the ticket recorded, each at its latest known state (union of the state
    # snapshots history carries: Update results, continue-as-new inputs, the result or a query).
    cycles: list[ClockCycle]
    running: bool = False
    migrated: bool = False  # a `migrate` Update in its history (replayed under one snapshot)


def replay(
    start: TicketInput,
    started_at: datetime,
    actions: Sequence[RecordedAction],
    sla: ResolvedSla,
    as_of: datetime,
    deadline: Deadlines = deadline_for,
) -> list[ClockCycle]:
    """Every clock cycle the ticket would have had under `sla`, as of `as_of`."""
    shell = _Shell(start.model_copy(update={"sla": sla, "state": None}), started_at, deadline)
    for act in actions:
        if act.at > as_of:
            break
        if act.name in NOT_REPLAYED:
            continue
        shell.fire_until(act.at, inclusive=False)
        shell.now = max(shell.now, act.at)
        shell.decide(act.payload, act.via, name=act.name)
        shell.settle()
    shell.fire_until(as_of, inclusive=True)
    return shell.cycles()


class _Shell:
    """`TicketWorkflow`'s part, synchronously: deadlines computed, timers fired at their instant."""

    def __init__(self, start: TicketInput, started_at: datetime, deadline: Deadlines) -> None:
        self.state: TicketState = rules.new_state(start)
        self.now = started_at
        self.deadline = deadline
        self.seen: dict[tuple[Clock, int], ClockCycle] = {}
        self.decide(rules.Open())
        self.settle()

    def decide(self, inp: core.Input, via: str = "update", name: str = "") -> None:
        if isinstance(inp, Action):
            decision = core.decide(self.state, inp, self.now, via)
            if decision.state is None:
                if via == "signal" and decision.refusal is not None:
                    # As the workflow does: a refused Signal leaves a ledger row, nothing else.
                    self.state = core.refused_signal(
                        self.state, name, inp.actor, decision.refusal, self.now
                    )
                return
        else:
            decision = core.decide(self.state, inp, self.now)
        assert decision.state is not None
        self.state = decision.state
        for c in self.state.cycles:  # trimmed cycles stay known: the latest copy of each
            self.seen[(c.clock, c.cycle)] = c

    def settle(self) -> None:
        for _ in range(1000):
            pending = next(
                (
                    c
                    for c in self.state.cycles
                    if (c.active and c.computed_revision != c.revision)
                    or (not c.active and c.business_used is None)
                ),
                None,
            )
            if pending is None:
                return
            c = pending
            if c.active:
                purpose = "start" if c.computed_revision < 0 else "recompute"
                result = self.deadline(rules.deadline_request(self.state, c, self.now, purpose))
                self.decide(rules.DeadlineComputed(c.clock, c.cycle, c.revision, result, self.now))
            else:
                ended = c.ended_at or self.now
                used = self.deadline(rules.deadline_request(self.state, c, ended, "measure")).used
                self.decide(rules.Measured(c.clock, c.cycle, used))
        raise RuntimeError(f"ticket {self.state.key} never settled")

    def next_timer(self) -> tuple[datetime, rules.ClockInput] | None:
        best: tuple[datetime, rules.ClockInput] | None = None
        for c in self.state.cycles:
            if c.status != CycleStatus.running or c.due_at is None:
                continue
            at, warning = rules.next_event(c)
            inp: rules.ClockInput = (
                rules.WarningFired(c.clock, c.cycle, warning.label)
                if warning is not None
                else rules.DueFired(c.clock, c.cycle)
            )
            if best is None or at < best[0]:
                best = (at, inp)
        return best

    def fire_until(self, until: datetime, *, inclusive: bool) -> None:
        for _ in range(10_000):
            nxt = self.next_timer()
            if nxt is None or nxt[0] > until or (nxt[0] == until and not inclusive):
                return
            self.now = max(self.now, nxt[0])
            self.decide(nxt[1], "timer")
            self.settle()
        raise RuntimeError(f"ticket {self.state.key}: timers never ran out")

    def cycles(self) -> list[ClockCycle]:
        return sorted(self.seen.values(), key=lambda c: (c.started_at, c.clock.value, c.cycle))


def judge(c: ClockCycle, as_of: datetime) -> Outcome | None:
    """One cycle as of `as_of`: met, breached, open (not yet due), or None (not judged)."""
    if c.clock not in JUDGED or c.started_at > as_of:
        return None
    if c.status == CycleStatus.met and c.met_at is not None and c.met_at <= as_of:
        return "met"
    if c.status == CycleStatus.breached and (c.breached_at or c.due_at or as_of) <= as_of:
        return "breached"
    ended = c.status in (CycleStatus.stopped, CycleStatus.expired)
    if ended and c.ended_at is not None and c.ended_at <= as_of:
        return None
    # Running at `as_of` (or it ended later): a passed deadline is a breach.
    if c.due_at is not None and c.due_at <= as_of:
        return "breached"
    return "open"


def resolve_candidate(candidate: Policy, ran: TicketInput) -> ResolvedSla:
    """The candidate resolved with the inputs the ticket was resolved with (tier, the severity
    asked for, customer zone and region, channel, product, type, opening instant)."""
    sla = ran.sla
    return resolve_policy(
        candidate,
        sla.tier,
        sla.requested_severity,
        Customer(
            name=ran.customer.name,
            timezone=sla.customer_timezone or ran.customer.timezone,
            region=sla.customer_region or ran.customer.region,
        ),
        channel=sla.channel,
        product=sla.product,
        opened_at=ran.opened_at,
        ticket_type=sla.ticket_type,
    )


# -- the comparison -------------------------------------------------------------------------------
@dataclass
class _Side:
    met: int = 0
    breached: int = 0
    open: int = 0
    first_response_s: list[float] = field(default_factory=list)

    def add(self, c: ClockCycle, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        if c.clock == Clock.first_response and outcome != "open":
            answered = c.met_at or c.answered_at
            if answered is not None:
                self.first_response_s.append((answered - c.started_at).total_seconds())

    def counts(self) -> dict[str, int]:
        return {"met": self.met, "breached": self.breached, "open": self.open}

    def first_response(self) -> dict[str, Any]:
        xs = sorted(self.first_response_s)
        return {
            "answered": len(xs),
            "median_s": statistics.median(xs) if xs else None,
            "p90_s": xs[min(len(xs) - 1, int(0.9 * len(xs)))] if xs else None,
        }


def _terms_key(sla: ResolvedSla, severity: str) -> tuple[int, str, str]:
    try:
        rank = sla.terms(severity).rank
    except KeyError:
        rank = None
    return (rank if rank is not None else 0, sla.tier, severity)


@dataclass
class TicketOutcome:
    """One ticket under both: its real cycles and the candidate's, with their snapshots."""

    key: str
    actual_sla: ResolvedSla
    actual: list[ClockCycle]
    candidate_sla: ResolvedSla | None
    candidate: list[ClockCycle]
    error: str | None = None  # why the candidate could not be applied (e.g. tier unknown)


def compare(outcomes: Iterable[TicketOutcome], as_of: datetime) -> dict[str, Any]:
    """The report: totals, per rank/tier/severity groups, and every clock whose outcome changes."""
    total = {"actual": _Side(), "candidate": _Side()}
    groups: dict[tuple[int, str, str], dict[str, _Side]] = {}
    changed: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    tickets = 0
    for t in outcomes:
        if t.error is not None or t.candidate_sla is None:
            skipped.append({"key": t.key, "reason": t.error or "no candidate snapshot"})
            continue
        tickets += 1
        judged: dict[tuple[str, int], dict[str, tuple[ClockCycle, Outcome]]] = {}
        for side, sla, cycles in (
            ("actual", t.actual_sla, t.actual),
            ("candidate", t.candidate_sla, t.candidate),
        ):
            for c in cycles:
                outcome = judge(c, as_of)
                if outcome is None:
                    continue
                judged.setdefault((c.clock.value, c.cycle), {})[side] = (c, outcome)
                total[side].add(c, outcome)
                group = groups.setdefault(
                    _terms_key(sla, c.severity), {"actual": _Side(), "candidate": _Side()}
                )
                group[side].add(c, outcome)
        for (clock, number), sides in sorted(judged.items()):
            a, b = sides.get("actual"), sides.get("candidate")
            if a is not None and b is not None and a[1] == b[1]:
                continue
            changed.append(
                {
                    "key": t.key,
                    "clock": clock,
                    "cycle": number,
                    "actual": a[1] if a else None,
                    "candidate": b[1] if b else None,
                    "actual_due": _iso(a[0].due_at) if a else None,
                    "candidate_due": _iso(b[0].due_at) if b else None,
                }
            )
    return {
        "tickets": tickets,
        "as_of": _iso(as_of),
        "actual": {**total["actual"].counts(), "first_response": total["actual"].first_response()},
        "candidate": {
            **total["candidate"].counts(),
            "first_response": total["candidate"].first_response(),
        },
        "groups": [
            {
                "rank": rank or None,
                "tier": tier,
                "severity": severity,
                "actual": {
                    **sides["actual"].counts(),
                    "first_response": sides["actual"].first_response(),
                },
                "candidate": {
                    **sides["candidate"].counts(),
                    "first_response": sides["candidate"].first_response(),
                },
            }
            for (rank, tier, severity), sides in sorted(groups.items())
        ],
        "changed": changed,
        "skipped": skipped,
    }


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None
