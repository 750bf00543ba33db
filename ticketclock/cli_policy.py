"""`ticketclock policy ...`: inspect, validate and try out the policy catalogue from a shell.

`due` answers "when is this ticket due?" without a server, using the same `resolve()` and
`ResolvedSla.due()` a running ticket uses, so what it prints is what the workflow will do.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from policies.catalog import check_files, load_catalog
from policies.customer import Customer
from policies.durations import DurationError, describe_amount, parse_duration
from policies.errors import PolicyError
from policies.model import OFF, UNSET, WILDCARD, Exemption, HolidayRule, Policy, TargetDef
from policies.snapshot import Clock, ResolvedSla

# What really starts each clock; `due` starts them all at the opening instant to show amounts.
STARTS = {
    Clock.first_response: "ticket received",
    Clock.next_update: "each public agent update",
    Clock.incident_commander: "engineering acknowledgement",
    Clock.customer_silence: "agent waits on the customer",
    Clock.post_incident_review: "incident mitigated",
    Clock.escalation_window: "final solution communicated",
}


def register(subparsers: Any) -> None:
    policy = subparsers.add_parser("policy", help="inspect, check and try the policy catalogue")
    sub = policy.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list the catalogue's policies")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_guarded(cmd_list))

    p = sub.add_parser("show", help="show one policy as loaded (overrides applied)")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="the merged policy as JSON")
    p.set_defaults(func=_guarded(cmd_show))

    p = sub.add_parser("check", help="validate the catalogue and the given files")
    p.add_argument("files", nargs="*", metavar="FILE", help="extra or override files to check")
    p.set_defaults(func=_guarded(cmd_check))

    p = sub.add_parser("due", help="every clock's deadline for a ticket opened at --opened")
    p.add_argument("id", help="policy id, e.g. clickhouse")
    p.add_argument("--tier", required=True)
    p.add_argument("--severity", required=True)
    p.add_argument("--opened", required=True, help="ISO 8601 instant with offset, e.g. ...Z")
    p.add_argument("--timezone", help="customer's IANA zone (Confluent)")
    p.add_argument("--region", help="customer's region (Kong): Americas, EMEA, AP/ANZ")
    p.add_argument("--channel", help="intake channel, e.g. email")
    p.add_argument("--product", help="product or feature stage, e.g. beta, insomnia")
    p.add_argument("--type", help="ticket type: incident (default) or request")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_guarded(cmd_due))

    from ticketclock import cli_policy_ops  # whatif, migrate: through the API

    cli_policy_ops.register(sub)


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Policy errors become `error: <field>: <message>` and exit status 2, never a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except PolicyError as exc:
            print(f"error: {exc.field}: {exc.message}", file=sys.stderr)
            return 2

    return run


# -- list / show ------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    rows = []
    for pid in catalog.ids():
        p = catalog.get(pid)
        rows.append(
            {
                "id": p.id,
                "name": p.name,
                "version": p.version,
                "effective": str(p.effective),
                "seed": p.seed,
                "tiers": list(p.tiers),
                "files": list(catalog.files(pid)),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        print(f"{r['id']:<{width}}  {r['version']:<24}  {r['seed']}  {r['name']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    p = catalog.get(args.id)
    if args.json:
        data = p.model_dump(mode="json", exclude_none=True)
        print(json.dumps({"files": list(catalog.files(p.id)), "policy": data}, indent=2))
        return 0
    print(f"{p.id}: {p.name} ({p.vendor})")
    effective_from = f"; in effect from {p.effective_from}" if p.effective_from else ""
    print(f"  seed {p.seed}; effective {p.effective}; version {p.version}{effective_from}")
    print(f"  files: {', '.join(catalog.files(p.id))}")
    print(f"  default warnings: {', '.join(p.warnings) or 'none'}; reopen window {p.reopen_window}")
    print("tiers:")
    for tid, tier in p.tiers.items():
        aliases = f" (aliases: {', '.join(tier.aliases)})" if tier.aliases else ""
        print(f"  {tid}: {tier.label}{aliases}")
    print("severities (most severe first):")
    for s in p.severities:
        aliases = f" (aliases: {', '.join(s.aliases)})" if s.aliases else ""
        print(f"  {s.id}: {s.label} - {s.name}{aliases}")
    print("calendars:")
    for name, cal in p.calendars.items():
        hours = "; ".join(
            f"{d} {','.join(f'{a}-{b}' for a, b in iv)}" for d, iv in cal.hours.items()
        )
        hol = cal.holidays
        holidays = (
            f"{hol.country}{'-' + hol.subdiv if hol.subdiv else ''}"
            if isinstance(hol, HolidayRule)
            else (", ".join(d.isoformat() for d in hol) or "none")
        )
        zone = cal.timezone or "customer's time zone"
        print(f"  {name}: {zone}; {hours}; holidays {holidays}; business day {cal.business_day}")
        if cal.label:
            print(f"    {cal.label} ({cal.source})")
    print(f"calendar selection: {_selection(p)}")
    print("targets:")
    for tier_key, cells in p.targets.items():
        for sev, cell in cells.items():
            parts = [f"{c.value} {_target_text(p, t)}" for c, t in cell.targets().items()]
            if cell.not_entitled:
                parts.append(f"not entitled: {cell.not_entitled}")
            label = '"*"' if tier_key == WILDCARD else tier_key
            print(f"  {label}.{sev}: {'; '.join(parts)}")
    for cap in p.tier_caps:
        print(f"tier cap: {', '.join(cap.tiers)} -> at most {cap.max_severity}: {cap.reason}")
    for pcap in p.product_caps:
        print(f"product cap: {', '.join(pcap.products)} -> at most {pcap.max_severity}")
    for chan in p.channel_defaults:
        print(f"channel default: {', '.join(chan.channels)} -> starts at {chan.initial_severity}")
    for ex in p.exemptions:
        print(f"no response-time targets for {_exemption_match(ex)}: {ex.reason} ({ex.source})")
    for rule in ("eta_required", "page_oncall"):
        value = getattr(p.rules, rule)
        if value is not None:
            print(f"rule {rule}: {', '.join(value.severities)}")
    if p.intake is not None:
        print(f"intake required: {', '.join(p.intake.required)}")
    life = p.lifecycle
    print("lifecycle:")
    restarts = life.reopen_restarts.value if life.reopen_restarts else "none"
    print(f"  reopen restarts: {restarts} - {life.reopen_restarts_source}")
    pauses = "yes" if life.next_update_pauses_while_waiting else "no"
    print(
        f"  next_update pauses while waiting on the customer: {pauses} - "
        f"{life.next_update_pauses_source}"
    )
    print(f"  review starts at: {life.review_starts_at} - {life.review_starts_source}")
    if p.not_modelled:
        print("not modelled (recorded, not encoded):")
        for nm in p.not_modelled:
            print(f'  {nm.source}: "{nm.clause}" - {nm.why}')
    return 0


def _target_text(p: Policy, t: TargetDef) -> str:
    """The target as written, with the unit and calendar it counts on."""
    if t.within.strip().lower() in (UNSET, OFF):
        return t.within
    try:
        duration = parse_duration(t.within)
        if t.clock not in (None, "24x7") and not duration.business:
            duration = duration.as_business()
    except DurationError:
        return t.within
    if duration.business:
        named = t.clock if t.clock not in (None, "24x7", "business") else None
        where = named or "the ticket's calendar"
        return f"{t.within} [business, on {where}]"
    unit = "calendar days, local clock" if duration.unit == "calendar_days" else "elapsed, 24x7"
    return f"{t.within} [{unit}]"


def _exemption_match(ex: Exemption) -> str:
    parts = []
    if ex.types:
        parts.append(f"type {' / '.join(ex.types)}")
    if ex.channels:
        parts.append(f"channel {' / '.join(ex.channels)}")
    if ex.channels_except:
        parts.append(f"any channel but {' / '.join(ex.channels_except)}")
    if ex.products:
        parts.append(f"product {' / '.join(ex.products)}")
    return ", ".join(parts)


def _selection(p: Policy) -> str:
    sel = p.calendar_selection
    if sel.by == "customer_region":
        return "by customer region: " + ", ".join(f"{r.label} -> {r.calendar}" for r in sel.regions)
    if sel.by == "customer_timezone":
        return f"{sel.calendar} in the customer's own time zone"
    return f"fixed: {sel.calendar}"


# -- check ------------------------------------------------------------------------------------


def cmd_check(args: argparse.Namespace) -> int:
    errors = check_files(args.files)
    for err in errors:
        print(f"{err.field}: {err.message}")
    if errors:
        print(f"{len(errors)} problem(s)", file=sys.stderr)
        return 1
    checked = len(load_catalog().ids())
    extra = f" and {len(args.files)} file(s)" if args.files else ""
    print(f"ok: {checked} catalogue policies{extra}")
    return 0


# -- due --------------------------------------------------------------------------------------


def cmd_due(args: argparse.Namespace) -> int:
    opened = _parse_opened(args.opened)
    catalog = load_catalog()
    _check_customer_options(catalog.get(args.id), args.timezone, args.region)
    customer = Customer(timezone=args.timezone, region=args.region)
    sla = catalog.resolve(
        args.id,
        args.tier,
        args.severity,
        customer,
        channel=args.channel,
        product=args.product,
        opened_at=opened,
        ticket_type=args.type,
    )
    report = due_report(sla, opened)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_due(report)
    return 0


def _check_customer_options(p: Policy, timezone: str | None, region: str | None) -> None:
    """A zone or region the policy never reads would be silently ignored: refuse it."""
    by = p.calendar_selection.by
    if timezone is not None and by != "customer_timezone":
        raise PolicyError(
            "timezone", f"{p.id} does not use the customer's time zone ({_selection(p)})"
        )
    if region is not None and by != "customer_region":
        raise PolicyError("region", f"{p.id} does not use the customer's region ({_selection(p)})")


def _parse_opened(text: str) -> datetime:
    try:
        opened = datetime.fromisoformat(text)
    except ValueError:
        raise PolicyError(
            "opened", f"{text!r} is not an ISO 8601 instant; e.g. 2026-11-27T09:30:00Z"
        ) from None
    if opened.tzinfo is None:
        suggestion = opened.isoformat() + "Z"  # a date alone becomes its midnight, then UTC
        raise PolicyError("opened", f"{text!r} needs a UTC offset, e.g. {suggestion}")
    return opened


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def due_report(sla: ResolvedSla, opened: datetime) -> dict[str, Any]:
    """Every clock of the ticket's severity, started at `opened`, as plain JSON-able data."""
    terms = sla.terms()
    zone = sla.business_calendar().zone
    clocks = []
    for clock, target in terms.targets.items():
        due = sla.due(clock, opened)
        assert due.due_at is not None  # no pauses given
        clocks.append(
            {
                "clock": clock.value,
                "target": target.text,
                "amount": describe_amount(target.amount, target.unit),
                "unit": target.unit,
                "business": target.business,
                "calendar": target.calendar or sla.calendar.name,
                "source": target.source,
                "starts": STARTS[clock],
                "as_if_started_at_opened": clock is not Clock.first_response,
                "due_at": due.due_at.isoformat(),
                "due_at_utc": _utc(due.due_at),
                "warnings": [
                    {"label": w.label, "at": w.at.isoformat(), "at_utc": _utc(w.at)}
                    for w in due.warnings
                ],
            }
        )
    return {
        "policy": sla.policy_id,
        "policy_version": sla.policy_version,
        "tier": sla.tier,
        "requested_severity": sla.requested_severity,
        "requested_label": sla.terms(sla.requested_severity).label,
        "severity": sla.severity,
        "severity_label": terms.label,
        "cap_reason": sla.cap_reason,
        "type": sla.ticket_type,
        "exempt_reason": sla.exempt_reason,
        "calendar": sla.calendar.name,
        "timezone": sla.calendar.timezone,
        "opened_at": opened.astimezone(zone).isoformat(),
        "opened_at_utc": _utc(opened),
        "eta_required": terms.eta_required,
        "page_oncall": terms.page_oncall,
        "intake_required": list(sla.intake_required),
        "clocks": clocks,
    }


def _print_due(r: dict[str, Any]) -> None:
    requested = ""
    if r["requested_severity"] != r["severity"]:
        requested = f" (requested {r['requested_label']})"
    print(
        f"{r['policy']} {r['policy_version']}: tier {r['tier']}, {r['severity_label']}{requested}"
    )
    if r["cap_reason"]:
        print(f"  capped: {r['cap_reason']}")
    if r["exempt_reason"]:
        print(f"  no response-time targets ({r['type']}): {r['exempt_reason']}")
    print(f"  calendar {r['calendar']} ({r['timezone']})")
    print(f"  opened {r['opened_at']} = {r['opened_at_utc']}")
    for flag in ("eta_required", "page_oncall"):
        if r[flag]:
            print(f"  {flag}: yes")
    if r["intake_required"]:
        print(f"  intake required before the SLA starts: {', '.join(r['intake_required'])}")
    for c in r["clocks"]:
        unit = {
            "business": f"business: {c['amount']} on {c['calendar']}",
            "calendar_days": "calendar days on the local clock",
        }.get(c["unit"], "24x7")
        print(f"{c['clock']}: {c['target']} [{unit}] - {c['source']}")
        if c["as_if_started_at_opened"]:
            print(f"  (as if started at opened time; really starts at: {c['starts']})")
        print(f"  due {c['due_at']} = {c['due_at_utc']}")
        for w in c["warnings"]:
            print(f"  warn {w['label']}: {w['at']} = {w['at_utc']}")
