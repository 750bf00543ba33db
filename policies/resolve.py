"""Turn (policy, tier, severity, customer, channel, product) into a ticket's frozen `ResolvedSla`.

(`policies.catalog.resolve` is the entry point that loads the catalogue; this module imports
nothing from `catalog`, which imports it.)

This is the only place entitlement rules run: tier caps and product caps lower the severity and
mark the higher ones not entitled; channel defaults only lower the starting severity. The
calendar is picked (fixed, customer's zone or customer's region), its holidays are materialised
for opened_at.year-1 .. +2, and every clock of every severity of the tier is resolved to an
amount of time, so the running ticket never reads the catalogue again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from policies.calendar import BusinessCalendar, cached_calendar
from policies.customer import Customer, check_zone
from policies.durations import Duration, parse_duration
from policies.errors import PolicyError
from policies.model import (
    DEFAULT_TYPE,
    OFF,
    TICKET_TYPES,
    UNSET,
    CalendarDef,
    HolidayRule,
    Policy,
    TargetDef,
    parse_warning,
)
from policies.snapshot import (
    CalendarSnapshot,
    Clock,
    ResolvedSla,
    SeverityTerms,
    Target,
    WarningPoint,
)

__all__ = ["calendar_spec", "resolve_policy"]


@dataclass(frozen=True)
class _Planned:
    """A target before the calendar is known (business days not yet converted)."""

    clock: Clock
    duration: Duration
    text: str
    warnings: tuple[str, ...]
    source: str
    calendar: str | None = None  # a calendar the target names (None: the ticket's own)


# Instants outside this range are refused: holidays are materialised for opened.year-1 .. +2
# and deadlines must stay representable (a year-9999 ticket ended in a traceback).
EARLIEST_OPENED = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_OPENED = datetime(2200, 1, 1, tzinfo=UTC)


def resolve_policy(
    policy: Policy,
    tier: str,
    severity: str,
    customer: Customer | None = None,
    *,
    channel: str | None = None,
    product: str | None = None,
    opened_at: datetime | None = None,
    ticket_type: str | None = None,
) -> ResolvedSla:
    opened = _opened(opened_at)
    customer = customer or Customer()
    if customer.timezone is not None:
        check_zone(customer.timezone)  # real region zones only, whichever calendar it picks
    kind = _ticket_type(ticket_type)
    tier_id = policy.find_tier(tier)
    if tier_id is None:
        allowed = ", ".join(f"{t} ({d.label})" for t, d in policy.tiers.items())
        raise PolicyError("tier", f"unknown tier {tier!r} for {policy.id}; allowed: {allowed}")
    requested = policy.find_severity(severity)
    if requested is None:
        raise PolicyError(
            "severity",
            f"unknown severity {severity!r} for {policy.id}; "
            f"allowed (any case): {policy.allowed_severities()}",
        )

    exemption = policy.exemption(kind, channel, product)
    refused = _not_entitled(policy, tier_id, product)
    planned, unset = _plan_tier(policy, tier_id, refused)
    exempt_reason = None
    if exemption is not None:
        # The policy binds this ticket to no response time: it keeps its severity, no targets.
        exempt_reason = _with_source(exemption.reason, exemption.source)
        planned, unset = {sev: {} for sev in planned}, {}
    effective, cap_reason = _effective(policy, tier_id, requested.id, channel, product, refused)
    own = policy.selectable_calendars()
    needs_calendar = {
        sev
        for sev, clocks in planned.items()
        if sev not in refused
        and any(p.duration.business and (p.calendar in (None, *own)) for p in clocks.values())
    }
    calendar, zone_name, region, missing = _pick_calendar(
        policy, customer, effective in needs_calendar, bool(needs_calendar)
    )
    if effective in unset:
        raise PolicyError(unset[effective], f"not configured ({policy.unset_reason})")
    for sev, path in unset.items():
        refused[sev] = f"{path}: not configured ({policy.unset_reason})"
    if missing is not None:
        # No zone/region given and the ticket's severity does not need one: the severities
        # whose business hours would need it cannot be reached by a later severity change.
        for sev in needs_calendar:
            refused.setdefault(sev, missing)

    snapshot_cal = _calendar_snapshot(policy, calendar, zone_name, opened.year)
    others = {
        p.calendar
        for sev, clocks in planned.items()
        if sev not in refused
        for p in clocks.values()
        if p.calendar is not None and p.calendar != calendar
    }
    aux = {
        name: _calendar_snapshot(
            policy, name, policy.calendars[name].timezone or "UTC", opened.year
        )
        for name in sorted(others)
    }
    day_of = {calendar: snapshot_cal.business_day} | {n: c.business_day for n, c in aux.items()}
    rules = policy.rules
    terms = []
    for sdef in policy.severities:
        reason = refused.get(sdef.id)
        targets = {
            clock: _target(p, day_of[p.calendar or calendar])
            for clock, p in planned.get(sdef.id, {}).items()
        }
        terms.append(
            SeverityTerms(
                severity=sdef.id,
                label=sdef.label,
                aliases=sdef.aliases,
                rank=policy.severity_rank(sdef.id),
                entitled=reason is None,
                not_entitled_reason=reason,
                targets=targets if reason is None else {},
                eta_required=bool(rules.eta_required and sdef.id in rules.eta_required.severities),
                page_oncall=bool(rules.page_oncall and sdef.id in rules.page_oncall.severities),
            )
        )

    return ResolvedSla(
        policy_id=policy.id,
        policy_name=policy.name,
        policy_version=policy.version,
        policy_effective_from=policy.effective_from,
        seed=policy.seed,
        tier=tier_id,
        tier_label=policy.tiers[tier_id].label,
        requested_severity=requested.id,
        severity=effective,
        cap_reason=cap_reason,
        ticket_type=kind,
        exempt_reason=exempt_reason,
        channel=channel,
        product=product,
        customer_timezone=customer.timezone,
        customer_region=region,
        calendar=snapshot_cal,
        calendars=aux,
        severities=tuple(terms),
        intake_required=policy.intake.required if policy.intake else (),
        reopen_window=parse_duration(policy.reopen_window).fixed,
        lifecycle=policy.lifecycle,
    )


def _ticket_type(ticket_type: str | None) -> str:
    if ticket_type is None:
        return DEFAULT_TYPE
    kind = ticket_type.strip().lower()
    if kind not in TICKET_TYPES:
        raise PolicyError(
            "type", f"unknown ticket type {ticket_type!r}; allowed: {', '.join(TICKET_TYPES)}"
        )
    return kind


def _opened(opened_at: datetime | None) -> datetime:
    if opened_at is None:
        return datetime.now(UTC)
    if opened_at.tzinfo is None or opened_at.utcoffset() is None:
        raise PolicyError("opened_at", f"{opened_at.isoformat()} has no UTC offset")
    try:
        in_range = EARLIEST_OPENED <= opened_at < LATEST_OPENED
    except OverflowError:
        in_range = False
    if not in_range:
        raise PolicyError(
            "opened_at",
            f"{opened_at.isoformat()} is outside the supported range"
            f" {EARLIEST_OPENED:%Y-%m-%d} .. {LATEST_OPENED.year - 1}-12-31",
        )
    return opened_at


def _with_source(reason: str, source: str) -> str:
    return f"{reason} ({source})"


def _not_entitled(policy: Policy, tier: str, product: str | None) -> dict[str, str]:
    """Severity -> why this ticket may not have it (tier cap, product cap, explicit marker)."""
    refused: dict[str, str] = {}
    caps = [c for c in (policy.tier_cap(tier), policy.product_cap(product)) if c is not None]
    for sev in policy.severity_ids():
        for cap in caps:
            if policy.rank(sev) < policy.rank(cap.max_severity):
                refused.setdefault(sev, _with_source(cap.reason, cap.source))
        explicit = policy.explicit_not_entitled(tier, sev)
        if explicit:
            refused.setdefault(sev, explicit)
    return refused


def _effective(
    policy: Policy,
    tier: str,
    requested: str,
    channel: str | None,
    product: str | None,
    refused: dict[str, str],
) -> tuple[str, str | None]:
    """The severity the ticket starts at, and why it differs from the requested one."""
    limits: list[tuple[str, str]] = []
    for cap in (policy.tier_cap(tier), policy.product_cap(product)):
        if cap is not None:
            limits.append((cap.max_severity, _with_source(cap.reason, cap.source)))
    chan = policy.channel_default(channel)
    if chan is not None:
        limits.append((chan.initial_severity, _with_source(chan.reason, chan.source)))
    rank = policy.rank
    effective = requested
    reasons = []
    for limit, reason in limits:
        if rank(requested) < rank(limit):
            reasons.append(reason)
            effective = max(effective, limit, key=rank)
    order = policy.severity_ids()
    while effective in refused:
        if refused[effective] not in reasons:
            reasons.append(refused[effective])
        following = order[rank(effective) + 1 :]
        if not following:
            raise PolicyError("severity", f"{requested} is not entitled: {'; '.join(reasons)}")
        effective = following[0]
    return effective, "; ".join(reasons) or None


def _plan_tier(
    policy: Policy, tier: str, refused: dict[str, str]
) -> tuple[dict[str, dict[Clock, _Planned]], dict[str, str]]:
    """Targets of every entitled severity, and severity -> path of its first "unset" target."""
    planned: dict[str, dict[Clock, _Planned]] = {}
    unset: dict[str, str] = {}
    for sev in policy.severity_ids():
        if sev in refused:
            continue
        planned[sev] = {}
        for clock, (target, path) in policy.cell_targets(tier, sev).items():
            within = target.within.strip().lower()
            if within == UNSET:
                unset.setdefault(sev, path.replace('targets."*"', f"targets.{tier}"))
            elif within != OFF:
                planned[sev][clock] = _plan(policy, clock, target)
    return planned, unset


def _plan(policy: Policy, clock: Clock, target: TargetDef) -> _Planned:
    duration = parse_duration(target.within)
    text = target.within
    named = target.clock if target.clock not in (None, "24x7", "business") else None
    if target.clock not in (None, "24x7") and not duration.business:
        duration = duration.as_business()
        text = f"{target.within} ({named or 'business'} clock)"
    return _Planned(
        clock=clock,
        duration=duration,
        text=text,
        warnings=policy.warnings_for(clock, target),
        source=policy.source_for(clock, target),
        calendar=named if duration.business else None,
    )


def _target(planned: _Planned, business_day: timedelta) -> Target:
    points = []
    for label in planned.warnings:
        fraction, before = parse_warning(label)
        offset = parse_duration(before).amount(business_day) if before else None
        points.append(WarningPoint(fraction=fraction, before=offset, label=label))
    return Target(
        clock=planned.clock,
        amount=planned.duration.amount(business_day),
        business=planned.duration.business,
        unit=planned.duration.unit,
        calendar=planned.calendar,
        text=planned.text,
        warnings=tuple(points),
        source=planned.source,
    )


def _pick_calendar(
    policy: Policy, customer: Customer, effective_needs: bool, any_needs: bool
) -> tuple[str, str, str | None, str | None]:
    """(calendar name, IANA zone, canonical region id, why other severities are out of reach).

    The customer's zone or region is required only when the ticket's own severity counts
    business hours on it (a Business-tier Confluent P1 runs round the clock and needs none).
    Without it, the severities that would need it are marked out of reach (the last item).
    """
    sel = policy.calendar_selection
    if sel.by == "customer_region":
        region = policy.find_region(customer.region) if customer.region else None
        names = ", ".join(r.label for r in sel.regions)
        if customer.region and region is None:
            raise PolicyError(
                "customer.region", f"unknown region {customer.region!r}; allowed: {names}"
            )
        missing = None
        if region is None:
            why = f"{policy.id} picks business hours by region ({names})"
            if effective_needs:
                raise PolicyError("customer.region", f"required: {why}")
            if any_needs:
                missing = f"customer.region is required for this severity: {why}"
            region = sel.regions[0]
        zone = policy.calendars[region.calendar].timezone
        assert zone is not None  # checked when the catalogue loaded
        return region.calendar, zone, region.id, missing
    assert sel.calendar is not None  # checked when the catalogue loaded
    if sel.by == "customer_timezone":
        if customer.timezone:
            return sel.calendar, check_zone(customer.timezone), None, None
        why = f"{policy.id} counts business hours in the customer's own time zone"
        if effective_needs:
            raise PolicyError("customer.timezone", f"required: {why}")
        missing = f"customer.timezone is required for this severity: {why}" if any_needs else None
        return sel.calendar, "UTC", None, missing  # the zone only labels times
    zone = policy.calendars[sel.calendar].timezone
    assert zone is not None
    return sel.calendar, zone, None, None


def _calendar_snapshot(policy: Policy, name: str, zone: str, year: int) -> CalendarSnapshot:
    """The chosen calendar with its holidays written out for year-1 .. year+2."""
    cal_def = policy.calendars[name]
    bcal = _business_calendar(json.dumps(calendar_spec(cal_def, zone)))
    holidays = tuple(bcal.holidays_between(date(year - 1, 1, 1), date(year + 2, 12, 31)))
    return CalendarSnapshot(
        name=name,
        timezone=zone,
        hours=dict(cal_def.hours),
        holidays=holidays,
        holiday_source=_holiday_source(bcal, holidays, year),
        business_day=bcal.business_day,
    )


def _holiday_source(bcal: BusinessCalendar, holidays: tuple[date, ...], year: int) -> str:
    source = bcal.holiday_source
    if source == "explicit":
        return "explicit list" if holidays else "none"
    return f"{source}, {year - 1}..{year + 2}"


def _business_calendar(spec_json: str) -> BusinessCalendar:
    # The cache is bounded in bytes (policies.calendar.cached_calendar).
    return cached_calendar(
        "spec:" + spec_json, lambda: BusinessCalendar.from_spec(json.loads(spec_json))
    )


def calendar_spec(cal: CalendarDef, timezone: str) -> dict[str, Any]:
    """The `BusinessCalendar.from_spec` spec for a catalogue calendar in `timezone`."""
    holidays: Any
    if isinstance(cal.holidays, HolidayRule):
        holidays = cal.holidays.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    else:
        holidays = [d.isoformat() for d in cal.holidays]
    spec: dict[str, Any] = {
        "timezone": timezone,
        "hours": {day: [list(iv) for iv in ivs] for day, ivs in cal.hours.items()},
        "holidays": holidays,
    }
    business_day = parse_duration(cal.business_day).fixed if cal.business_day else None
    if business_day:
        # Without one, the calendar's own default applies (its longest weekday opening).
        spec["business_day"] = int(business_day.total_seconds())
    return spec
