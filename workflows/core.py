"""`decide(state, action, now) -> Decision`: the ticket's rules as one pure function.

Every change to a ticket goes through here: an agent action (Update or Signal), the opening, a
clock firing (warning, due), a computed deadline, a measure, a delivery outcome. `decide` works on
a copy of the state and returns either a refusal (the state untouched) or the new state and the
effects the shell must carry out (start a cycle's timer task, deliver a notification, publish).

Exceptions inside an action. An agent action that hits a bug (anything but a refusal) is refused
as `InternalError`: its changes were made on a copy, which is dropped, so the ticket stays exactly
as it was, its clocks keep running and its breaches still fire; the caller sees the error (an
Update fails, a Signal's ledger row says `accepted: false`) and can retry once a fix is deployed.
Failing the workflow task instead (Temporal's safe_message_handlers sample) would also recover on a
fixed deploy, but until then it would freeze every clock of the ticket, which for an SLA timer is
the worse failure. A bug while applying a clock input (a timer, a deadline result) is NOT caught:
it fails the workflow task, Temporal retries it, and a fixed deploy applies it, so no breach or
warning is ever skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from policies.snapshot import Clock
from workflows import migration, rules
from workflows.actions import BY_NAME, RULES
from workflows.messages import Action, CycleStatus, TicketState

Input = Action | rules.ClockInput


@dataclass(frozen=True)
class Decision:
    """A refusal (state None) or the committed-to-be state and its effects."""

    state: TicketState | None
    effects: tuple[rules.Effect, ...] = ()
    refusal: rules.Refusal | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def check(state: TicketState, action: Action, now: datetime) -> rules.Refusal | None:
    """Would `action` be refused now? Reads the state, never changes it (Update validators)."""
    route = RULES.get(type(action))
    if route is None:
        return rules.Refusal("UnknownAction", f"{type(action).__name__} is not an action")
    try:
        # First: a redelivered event is a duplicate, not judged again (issue 15).
        rules.check_duplicate_event(state, action.event_id)
        route.check(state, action, now)
    except rules.Refused as refused:
        return refused.refusal
    return None


def decide(
    state: TicketState,
    action: Input,
    now: datetime,
    via: str = "update",
    *,
    breach_overdue: bool = True,
) -> Decision:
    """Apply `action` at `now` to a copy of `state` (`via`: how an agent action came).

    `breach_overdue=False` is the rule before overdue cycles were breached ahead of an action:
    only the workflow's replay of a history recorded before that rule passes it (see
    `BREACH_OVERDUE_PATCH` in workflows/ticket.py), so such a history makes the same commands."""
    if isinstance(action, Action):
        refusal = check(state, action, now)
        if refusal is not None:
            return Decision(None, (), refusal)
        route = RULES[type(action)]
        ctx = rules.Ctx(rules.copy_state(state), now)
        try:
            if breach_overdue:
                _breach_overdue(ctx)
            route.apply(ctx, action)
            rules.remember_event(ctx.s, action.event_id)
            ctx.reconcile()
            ctx.event(route.update, action.actor, via, detail=detail(action))
            rules.trim(ctx.s)
        except rules.Refused as refused:
            return Decision(None, (), refused.refusal)
        except Exception as bug:  # noqa: BLE001 - see the module docstring
            return Decision(
                None,
                (),
                rules.Refusal(
                    "InternalError", f"{route.update} failed: {type(bug).__name__}: {bug}"
                ),
            )
        return Decision(ctx.s, (*ctx.effects, rules.Publish()))
    ctx = rules.Ctx(rules.copy_state(state), now)
    _apply_clock_input(ctx, action)
    ctx.reconcile()
    rules.trim(ctx.s)
    return Decision(ctx.s, (*ctx.effects, rules.Publish()))


def _breach_overdue(ctx: rules.Ctx) -> None:
    """Judged by instants: a running SLA cycle whose deadline passed before this action is
    breached first, even if its timer has not fired yet (a busy worker fires it late); otherwise
    an action that stops the clock (a severity change to one without the target, a close) would
    erase the breach. The customer's silence and the escalation window expire by their timers."""
    for c in list(ctx.s.cycles):
        if (
            c.status == CycleStatus.running
            and c.clock in _BREACHABLE
            and c.due_at is not None
            and ctx.now > c.due_at
        ):
            ctx.breach(c)


_BREACHABLE = rules.SLA_CLOCKS - {Clock.customer_silence, Clock.escalation_window}


def _apply_clock_input(ctx: rules.Ctx, action: rules.ClockInput) -> None:
    match action:
        case rules.Open():
            rules.apply_open(ctx)
        case rules.Continued():
            rules.apply_continued(ctx)
        case rules.WarningFired():
            rules.apply_warning(ctx, action)
        case rules.DueFired():
            rules.apply_due(ctx, action)
        case rules.DeadlineComputed():
            rules.apply_deadline(ctx, action)
            cycle = ctx.find(action.clock, action.cycle)
            if cycle is not None and cycle.migrated_from is not None:
                migration.record_migrated(ctx, cycle)
        case rules.Measured():
            rules.apply_measured(ctx, action)
        case rules.Delivered():
            rules.apply_delivered(ctx, action)
        case _:
            raise TypeError(f"not an input of the ticket's rules: {action!r}")


def parse(name: str, data: Any) -> Action | rules.Refusal:
    """A Signal's payload, decoded by us rather than the SDK, so a malformed one is refused in
    the ledger instead of vanishing in a worker traceback."""
    route = BY_NAME.get(name)
    if route is None:
        return rules.Refusal("UnknownAction", f"{name!r} is not an action")
    try:
        return route.model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in err.errors()
        )
        return rules.Refusal("InvalidPayload", problems)


def refused_signal(
    state: TicketState, name: str, actor: str | None, refusal: rules.Refusal, now: datetime
) -> TicketState:
    """The state with a ledger row saying the Signal `name` was refused and why."""
    s = rules.copy_state(state)
    rules.append_event(
        s, now, name, actor, "signal", accepted=False, detail=f"{refusal.type}: {refusal.message}"
    )
    return s


def actor_of(data: Any) -> str | None:
    """The actor a (possibly malformed) payload names, if it names one as a short string."""
    if isinstance(data, dict):
        actor = data.get("actor")
        if isinstance(actor, str) and 0 < len(actor) <= 200:
            return actor
    return None


def detail(payload: Action) -> str | None:
    """A short ledger note: the action's fields except the actor (and the source event id),
    truncated."""
    fields = payload.model_dump(
        exclude={"actor", "sla", "event_id"}, exclude_none=True, mode="json"
    )
    if not fields:
        return None
    text = ", ".join(f"{k}={v}" for k, v in fields.items())
    return text if len(text) <= 300 else text[:297] + "..."
