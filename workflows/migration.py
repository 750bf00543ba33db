"""The `migrate` action's rule (issue 17): a ticket moves to another version of its policy.

Pure, like `workflows.rules` (whose `Ctx` it works on): `check_migrate` refuses, `apply_migrate`
changes a copy of the state. Every running clock is recomputed under the new version (keeping its
start and pauses, or counting afresh from now); a clock the new version has no target for stops;
ended cycles (met, breached, stopped) are history and stay exactly as they were. The ledger gets
the old deadlines now and, once each recomputed deadline lands (`core.decide` on its
`DeadlineComputed`), one row per clock `old -> new`. A clock whose new deadline has already
passed breaches at once through its timer, which notifies as every breach does.

`migrated_cycle` is also what the migration planner (`api/migration.py`) uses to show the
deadlines before and after without touching the ticket.
"""

from __future__ import annotations

from datetime import datetime

from policies.snapshot import ResolvedSla
from workflows.messages import (
    ClockCycle,
    CycleStatus,
    Migrate,
    MigrateMode,
    Pause,
    TicketState,
    TicketStatus,
)
from workflows.rules import Ctx, Refused


def check_migrate(s: TicketState, a: Migrate, now: datetime) -> None:
    if s.status == TicketStatus.closed:
        raise Refused("TicketClosed", f"ticket {s.key} is closed; nothing runs to migrate")
    if a.sla.policy_id != s.sla.policy_id:
        raise Refused(
            "WrongPolicy",
            f"sla: a version of {a.sla.policy_id!r}, but the ticket runs under {s.sla.policy_id!r}",
        )
    if a.sla.policy_version != a.to_version:
        raise Refused(
            "VersionMismatch", f"sla: resolved {a.sla.policy_version!r}, not {a.to_version!r}"
        )
    if a.to_version == s.sla.policy_version:
        raise Refused(
            "AlreadyOnVersion", f"to_version: the ticket already runs under {a.to_version!r}"
        )
    try:
        a.sla.with_severity(s.sla.severity)
    except (KeyError, ValueError) as exc:
        raise Refused(
            "UnknownSeverity",
            f"to_version: {a.to_version!r} has no entitled severity {s.sla.severity!r} ({exc})",
        ) from None


def migrated_cycle(
    c: ClockCycle, new: ResolvedSla, mode: MigrateMode, now: datetime
) -> ClockCycle | None:
    """A running cycle as the new version would run it (None: the version has no target for it)."""
    target = new.target(c.clock, c.severity)
    if target is None:
        return None
    update: dict[str, object] = {"target_text": target.text, "business": target.business}
    if mode == "from_now":
        update["warnings"] = []  # a fresh count: its warnings are new too
        update["started_at"] = now
        update["paused"] = [Pause(start=now)] if c.status == CycleStatus.paused else []
    return c.model_copy(update=update, deep=True)


def apply_migrate(x: Ctx, a: Migrate) -> None:
    s = x.s
    old_version = s.sla.policy_version
    s.sla = a.sla.with_severity(s.sla.severity)
    before: list[str] = []
    for i, c in enumerate(s.cycles):
        if not c.active:
            continue
        due = c.due_at.isoformat() if c.due_at else "none"
        before.append(f"{c.clock} #{c.cycle} due {due}")
        moved = migrated_cycle(c, s.sla, a.mode, x.now)
        if moved is None:
            x.end(c, CycleStatus.stopped, f"migrated to {a.to_version}: no target")
            continue
        moved.migrated_from = due
        s.cycles[i] = moved
        x.recompute(moved)
    x.event(
        "migrate_from",
        None,
        "system",
        detail=f"{old_version} -> {a.to_version} ({a.mode}); before: "
        + ("; ".join(before) or "no running clock"),
    )


def record_migrated(x: Ctx, c: ClockCycle) -> None:
    """Once a migrated cycle's new deadline is known: the ledger row old -> new."""
    if c.migrated_from is None or c.computed_revision != c.revision:
        return
    new = c.due_at.isoformat() if c.due_at else "none"
    x.event("migrated", None, "system", detail=f"{c.clock} #{c.cycle}: {c.migrated_from} -> {new}")
    c.migrated_from = None
