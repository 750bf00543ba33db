"""Hand-built SLA snapshots for workflow tests: second-scale targets, no catalogue involved."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from policies.snapshot import (
    CalendarSnapshot,
    Clock,
    ResolvedSla,
    SeverityTerms,
    Target,
    WarningPoint,
)

ALWAYS_OPEN = {
    day: (("00:00", "24:00"),) for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
}


def target(
    clock: Clock, seconds: float, *, business: bool = False, warn: float | None = 0.5
) -> Target:
    warnings = (WarningPoint(fraction=warn, label=f"{int(warn * 100)}%"),) if warn else ()
    return Target(
        clock=clock,
        amount=timedelta(seconds=seconds),
        business=business,
        text=f"{seconds:g}s" + (" business" if business else ""),
        warnings=warnings,
        source="test fixture",
    )


def quick_sla(
    *,
    sev1: dict[Clock, Target] | None = None,
    sev3: dict[Clock, Target] | None = None,
    eta_required: bool = False,
    intake: tuple[str, ...] = (),
    reopen_window: timedelta | None = timedelta(hours=1),
    hours: Mapping[str, tuple[tuple[str, str], ...]] | None = None,
    timezone: str = "America/Chicago",
) -> ResolvedSla:
    """A two-severity snapshot (sev1, sev3) on a 24x7 Chicago calendar unless `hours` is given."""
    sev1_targets = (
        sev1 if sev1 is not None else {Clock.first_response: target(Clock.first_response, 60)}
    )
    sev3_targets = (
        sev3 if sev3 is not None else {Clock.first_response: target(Clock.first_response, 600)}
    )
    return ResolvedSla(
        policy_id="test-policy",
        policy_name="Test Policy",
        policy_version="2026-01-01",
        seed="test",
        tier="gold",
        tier_label="Gold",
        requested_severity="sev1",
        severity="sev1",
        calendar=CalendarSnapshot(
            name="test",
            timezone=timezone,
            hours=hours or ALWAYS_OPEN,
            holidays=(),
            business_day=timedelta(hours=8),
        ),
        severities=(
            SeverityTerms(
                severity="sev1",
                label="Sev1",
                aliases=("1", "critical"),
                targets=sev1_targets,
                eta_required=eta_required,
                page_oncall=True,
            ),
            SeverityTerms(severity="sev3", label="Sev3", aliases=("3",), targets=sev3_targets),
        ),
        intake_required=intake,
        reopen_window=reopen_window,
    )
