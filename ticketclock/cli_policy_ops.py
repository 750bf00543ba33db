"""`ticketclock policy whatif` and `ticketclock policy migrate`: through the API.

Both ask the API at TICKETCLOCK_API_URL with the token in TICKETCLOCK_TOKEN (or
TICKETCLOCK_DEV_TOKEN), like `ticketclock tickets`: `whatif` needs `tickets:read`, `migrate`
`tickets:read` to plan and `tickets:act` to apply.

  ticketclock policy whatif new-kong.toml --from 2026-10-01 --to 2026-11-01 --json
  ticketclock policy migrate kong --to-version "contract-2027" --dry-run
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from plumbing.settings import SettingsError, load_settings
from ticketclock.api_client import ApiClient, ApiUnreachable, error_text
from ticketclock.cli_report import instant

WHATIF_TIMEOUT_S = 600.0


class CliError(RuntimeError):
    """What to print (after `ticketclock policy <cmd>: `) and exit 1 or 2 with."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def _client(scope: str, timeout: float = 60.0) -> ApiClient:
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise CliError(str(exc), 2) from None
    if not settings.api_url:
        raise CliError(
            "TICKETCLOCK_API_URL is not set (the API's base URL, e.g. http://127.0.0.1:8000)", 2
        )
    token = settings.cli_token or settings.dev_token
    if not token:
        raise CliError(f"TICKETCLOCK_TOKEN is not set (an API token with the {scope} scope)", 2)
    try:
        return ApiClient(settings.api_url, token, timeout=timeout)
    except ApiUnreachable as exc:
        raise CliError(exc.message, 2) from None


def _call(api: ApiClient, method: str, path: str, **kwargs: Any) -> Any:
    try:
        reply = api.request(method, path, **kwargs)
    except ApiUnreachable as exc:
        raise CliError(exc.message) from None
    if reply.status_code >= 400:
        raise CliError(f"{method} {path}: {reply.status_code} {error_text(reply)}")
    return reply.json()


def _guarded(name: str, func: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except CliError as exc:
            print(f"ticketclock policy {name}: {exc}", file=sys.stderr)
            return exc.status
        except BrokenPipeError:
            return 0

    return run


# -- whatif ---------------------------------------------------------------------------------------
def read_candidate(path: str) -> dict[str, Any] | str:
    """A candidate file: JSON (an object) or TOML (sent as text; the API parses it)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"CANDIDATE: cannot read {path}: {exc.strerror or exc}", 2) from None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CliError(f"CANDIDATE: {path} is not JSON: {exc}", 2) from None
        if not isinstance(data, dict):
            raise CliError(f"CANDIDATE: {path} must hold a JSON object", 2)
        return data
    return text


def cmd_whatif(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "candidate": read_candidate(args.candidate),
        "from": args.from_.isoformat(),
    }
    if args.to is not None:
        body["to"] = args.to.isoformat()
    if args.policy:
        body["policy"] = args.policy
    with _client("tickets:read", WHATIF_TIMEOUT_S) as api:
        report = _call(api, "POST", "/v1/policies/whatif", json=body)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    elif args.html:
        sys.stdout.write(whatif_html(report))
    else:
        sys.stdout.write(whatif_text(report))
    return 0


def _fr(side: dict[str, Any]) -> str:
    fr = side.get("first_response") or {}
    median = fr.get("median_s")
    return f"{median / 60:.1f} min" if isinstance(median, (int, float)) else "-"


def whatif_text(r: dict[str, Any]) -> str:
    a, c = r["actual"], r["candidate"]
    lines = [
        f"What-if: {r['policy']} -> candidate {r['candidate_version']}, {r['tickets']} tickets "
        f"opened {r['from']} .. {r['to']}, clocks judged as of {r['as_of']}",
        f"  actual:    {a['met']} met, {a['breached']} breached, {a['open']} open; "
        f"median first response {_fr(a)}",
        f"  candidate: {c['met']} met, {c['breached']} breached, {c['open']} open; "
        f"median first response {_fr(c)}",
        "",
        f"  {'rank':<5}{'tier':<12}{'severity':<12}{'met':>14}{'breached':>14}{'open':>12}",
    ]
    for g in r.get("groups", []):
        ga, gc = g["actual"], g["candidate"]
        lines.append(
            f"  {g['rank'] or '-'!s:<5}{g['tier']:<12}{g['severity']:<12}"
            f"{ga['met']:>6} -> {gc['met']:<5}{ga['breached']:>6} -> {gc['breached']:<5}"
            f"{ga['open']:>5} -> {gc['open']:<4}"
        )
    changed = r.get("changed", [])
    lines += ["", f"  {len(changed)} clock(s) change outcome"]
    for ch in changed[:200]:
        lines.append(
            f"    {ch['key']} {ch['clock']} #{ch['cycle']}: {ch['actual']} -> {ch['candidate']}"
            f" (due {ch.get('actual_due') or '-'} -> {ch.get('candidate_due') or '-'})"
        )
    if len(changed) > 200:
        lines.append(f"    ... and {len(changed) - 200} more (--json lists them all)")
    for s in r.get("skipped", []):
        lines.append(f"  skipped {s['key']}: {s['reason']}")
    return "\n".join(lines) + "\n"


def whatif_html(r: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(str(g['rank'] or '-'))}</td><td>{e(g['tier'])}</td><td>{e(g['severity'])}"
        f"</td><td>{g['actual']['met']}</td><td>{g['candidate']['met']}</td>"
        f"<td>{g['actual']['breached']}</td><td>{g['candidate']['breached']}</td>"
        f"<td>{e(_fr(g['actual']))}</td><td>{e(_fr(g['candidate']))}</td></tr>"
        for g in r.get("groups", [])
    )
    changed = "".join(
        f"<tr><td>{e(ch['key'])}</td><td>{e(ch['clock'])}</td><td>{ch['cycle']}</td>"
        f"<td>{e(str(ch['actual']))}</td><td>{e(str(ch['candidate']))}</td></tr>"
        for ch in r.get("changed", [])
    )
    title = f"What-if: {r['policy']} vs candidate {r['candidate_version']}"
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{e(title)}</title><style>body{{font-family:sans-serif}}td,th{{padding:2px 8px;"
        "border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{e(title)}</h1><p>{r['tickets']} tickets opened {e(r['from'])} .. {e(r['to'])}, "
        f"judged as of {e(r['as_of'])}. Actual {r['actual']['met']} met / "
        f"{r['actual']['breached']} breached; candidate {r['candidate']['met']} met / "
        f"{r['candidate']['breached']} breached.</p>"
        "<table><tr><th>rank</th><th>tier</th><th>severity</th><th>met (actual)</th>"
        "<th>met (candidate)</th><th>breached (actual)</th><th>breached (candidate)</th>"
        "<th>median first response (actual)</th><th>(candidate)</th></tr>"
        f"{rows}</table><h2>{len(r.get('changed', []))} clocks change outcome</h2>"
        "<table><tr><th>ticket</th><th>clock</th><th>cycle</th><th>actual</th>"
        f"<th>candidate</th></tr>{changed}</table></body></html>\n"
    )


def register(sub: Any) -> None:
    """Adds `whatif` and `migrate` to the `ticketclock policy` group (cli_policy.register)."""
    p = sub.add_parser(
        "whatif",
        help="replay a period's tickets under a candidate policy file (through the API)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("candidate", metavar="CANDIDATE", help="a TOML or JSON policy file")
    p.add_argument("--from", dest="from_", type=instant, required=True, metavar="ISO")
    p.add_argument("--to", type=instant, metavar="ISO", help="(default: now)")
    p.add_argument("--policy", help="the policy id the tickets ran under (default: CANDIDATE's)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="the API's JSON answer")
    out.add_argument("--html", action="store_true", help="a self-contained HTML page")
    p.set_defaults(func=_guarded("whatif", cmd_whatif))
    _register_migrate(sub)


# -- migrate --------------------------------------------------------------------------------------
def _plan_text(plan: dict[str, Any]) -> str:
    lines = [
        f"Migration plan: {plan['policy']} -> {plan['to_version']} ({plan['mode']}), "
        f"{len(plan['tickets'])} running ticket(s) not on it yet, as of {plan['as_of']}"
    ]
    for t in plan["tickets"]:
        if "error" in t:
            lines.append(f"  {t['key']}: cannot plan: {t['error']}")
            continue
        lines.append(f"  {t['key']} ({t['from_version']}, {t['severity']})")
        for c in t["clocks"]:
            after = "stops (no target)" if c["stops"] else (c["after"] or "none while paused")
            flag = "  BREACHES AT ONCE" if c["breaches_now"] else ""
            before = c["before"] or "-"
            lines.append(
                f"    {c['clock']} #{c['cycle']} ({c['status']}): {before} -> {after}{flag}"
            )
        if not t["clocks"]:
            lines.append("    no running clock")
    return "\n".join(lines) + "\n"


def cmd_migrate(args: argparse.Namespace) -> int:
    if not args.rate > 0:
        raise CliError("--rate: must be more than 0 tickets per second", 2)
    plan_body: dict[str, Any] = {"to_version": args.to_version, "mode": args.mode}
    if args.query:
        plan_body["query"] = args.query
    with _client("tickets:read", 600.0) as api:
        plan = _call(api, "POST", f"/v1/policies/{args.id}/migration-plan", json=plan_body)
        if args.json and args.dry_run:
            sys.stdout.write(json.dumps(plan, indent=2) + "\n")
            return 0
        sys.stdout.write(_plan_text(plan))
        if args.dry_run:
            return 0
        todo = [t for t in plan["tickets"] if "error" not in t]
        failed = 0
        interval = 1.0 / args.rate
        for i, t in enumerate(todo, 1):
            started = time.monotonic()
            body = {
                "to_version": args.to_version,
                "actor": args.actor,
                "reason": args.reason,
                "mode": args.mode,
            }
            try:
                reply = api.request("POST", f"/v1/tickets/{t['key']}/migrate", json=body)
            except ApiUnreachable as exc:
                raise CliError(
                    f"{exc.message}; {i - 1} of {len(todo)} migrated: run the same command "
                    "again to resume (migrated tickets are skipped)"
                ) from None
            if reply.status_code == 200:
                status = "migrated"
            elif reply.status_code == 409 and "AlreadyOnVersion" in reply.text:
                status = "already on it"
            else:
                failed += 1
                status = f"FAILED {reply.status_code} {error_text(reply)}"
            print(f"[{i}/{len(todo)}] {t['key']}: {status}", file=sys.stderr, flush=True)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    print(
        f"ticketclock policy migrate: {len(todo) - failed} of {len(todo)} ticket(s) on "
        f"{args.to_version}" + (f", {failed} failed (run again to retry them)" if failed else ""),
        file=sys.stderr,
    )
    return 1 if failed else 0


def _register_migrate(sub: Any) -> None:
    p = sub.add_parser(
        "migrate",
        help="move running tickets of a policy to another version (through the API)",
        description="Lists the running tickets of ID not yet on --to-version (visibility, "
        "narrowed by --query), shows each running clock's deadline before and after, then "
        "(without --dry-run) migrates them one by one at --rate per second with progress on "
        "stderr. Resumable: run the same command again; tickets already on the version are "
        "skipped.",
    )
    p.add_argument("id", help="the policy id")
    p.add_argument("--to-version", required=True, metavar="V", help="the version to move to")
    p.add_argument("--query", help="a visibility filter, e.g. \"TicketTier = 'enterprise'\"")
    p.add_argument("--dry-run", action="store_true", help="show the plan; change nothing")
    p.add_argument(
        "--mode",
        choices=("from_now", "from_original_start"),
        default="from_now",
        help="running clocks count afresh from now (default) or keep their start",
    )
    p.add_argument("--actor", default="ops:cli", help="who migrates (ledger)")
    p.add_argument("--reason", default="policy migration", help="why (ledger)")
    p.add_argument("--rate", type=float, default=5.0, help="tickets per second (default 5)")
    p.add_argument("--json", action="store_true", help="with --dry-run: the plan as JSON")
    p.set_defaults(func=_guarded("migrate", cmd_migrate))
