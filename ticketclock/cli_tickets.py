"""`ticketclock tickets ...`: list, show and act on tickets from a shell, through the HTTP API.

The API is TICKETCLOCK_API_URL (the dev stack's is http://127.0.0.1:8000) and the token is
TICKETCLOCK_TOKEN (else TICKETCLOCK_DEV_TOKEN). Every failure is one line on stderr and a non-zero
exit: 1 when the API or the ticket said no, 2 when the command or the settings are wrong.
`--json` prints what the API answered, for scripts.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import BaseModel

from plumbing.settings import SettingsError, load_settings
from policies.durations import DurationError, parse_duration
from ticketclock.api_client import ApiClient, ApiUnreachable, error_parts
from workflows.actions import ACTIONS as ACTION_ROUTES
from workflows.contract import InvalidTicketKey, validate_ticket_key
from workflows.messages import TicketStatus

PROG = "ticketclock tickets"
TIMEOUT_S = 30.0
PAGE_MAX = 200  # the API's largest page


class CliError(Exception):
    """A failure to report on one line; `code` 1: the API said no, 2: bad command or settings."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# -- actions ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionSpec:
    """One `act` ACTION: the API path under /v1/tickets/{key}/ and the body model it posts."""

    path: str
    model: type[BaseModel]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(name for name in self.model.model_fields if name != "actor")

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(
            name
            for name, info in self.model.model_fields.items()
            if name != "actor" and info.is_required()
        )


# A command is its path with "/" as "-", save where a singular reads better on a command line.
_COMMAND_FOR_PATH = {"updates": "update", "customer-replies": "customer-reply"}
ACTIONS: dict[str, ActionSpec] = {
    _COMMAND_FOR_PATH.get(route.path, route.path.replace("/", "-")): ActionSpec(
        route.path, route.model
    )
    for route in ACTION_ROUTES
}

# Body field -> the flag that sets it (a field not listed is `--<field>`).
FLAGS = {"next_update_eta": "--eta", "fields": "--field"}
_BODY_FIELDS = {field for spec in ACTIONS.values() for field in spec.fields}


def flag_for(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


# -- settings and HTTP -----------------------------------------------------------------------------
class Api:
    """The ticketclock HTTP API; every answer that is not a success becomes a `CliError`."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = ApiClient(url, token, timeout=TIMEOUT_S)

    def close(self) -> None:
        self.http.close()

    def call(
        self, method: str, path: str, *, key: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            reply = self.http.request(method, path, **kwargs)
        except ApiUnreachable as exc:
            raise CliError(exc.message) from None
        if reply.is_success:
            try:
                body = reply.json()
            except ValueError:
                raise CliError(
                    f"{method} {path}: the answer is not JSON; is TICKETCLOCK_API_URL "
                    f"({self.url}) the ticketclock API?"
                ) from None
            return body if isinstance(body, dict) else {"items": body}
        raise self.error(reply, key)

    def error(self, reply: httpx.Response, key: str | None) -> CliError:
        kind, message, field = error_parts(reply)
        status = reply.status_code
        if status == 401:
            return CliError(
                f"401 Unauthorized: the API at {self.url} refused the token ({message}); "
                "check TICKETCLOCK_TOKEN"
            )
        if status == 403:
            return CliError(f"403 Forbidden: {message}; use a token with that scope")
        if status == 404 and kind == "TicketNotFound":
            return CliError(f"404 no ticket {key!r} at {self.url}")
        if status == 404:
            return CliError(
                f"404 {kind}: {message}; is TICKETCLOCK_API_URL ({self.url}) the ticketclock API?"
            )
        hint = f" (flag {flag_for(field)})" if field and field in _BODY_FIELDS else ""
        if status == 409:
            return CliError(f"409 refused: {kind}: {message}{hint}")
        if status == 422:
            return CliError(f"422 invalid input: {message}{hint}")
        if status == 503:
            return CliError(f"503 {kind}: {message}; the API cannot reach Temporal")
        return CliError(f"{status} {kind}: {message}")


def connect() -> Api:
    """The API from TICKETCLOCK_API_URL and TICKETCLOCK_TOKEN; `CliError` (2) when unusable."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise CliError(str(exc), 2) from None
    url = (settings.api_url or "").strip().rstrip("/")
    if not url:
        raise CliError(
            "TICKETCLOCK_API_URL is not set: point it at the API "
            "(the dev stack's is http://127.0.0.1:8000)",
            2,
        )
    if not url.startswith(("http://", "https://")):
        raise CliError(f"TICKETCLOCK_API_URL: {url!r} is not an http:// or https:// URL", 2)
    token = settings.cli_token or settings.dev_token
    if not token:
        raise CliError(
            "TICKETCLOCK_TOKEN is not set: use an API token with the tickets:read scope "
            "(and tickets:act to act), e.g. the dev token `make run` printed",
            2,
        )
    return Api(url, token)


def _ticket_key(key: str) -> str:
    try:
        return validate_ticket_key(key)
    except InvalidTicketKey as exc:
        raise CliError(str(exc), 2) from None


# -- rendering -------------------------------------------------------------------------------------
COLOURS = {"met": "32", "warned": "33", "breached": "31", "running": "36"}


class Painter:
    """ANSI colours when writing to a terminal, unless NO_COLOR is set (https://no-color.org)."""

    def __init__(self, stream: TextIO, mode: str = "auto") -> None:
        if mode == "auto":
            isatty = getattr(stream, "isatty", None)
            self.on = bool(isatty and isatty()) and not os.environ.get("NO_COLOR")
        else:
            self.on = mode == "always"

    def __call__(self, text: str, tone: str | None) -> str:
        code = COLOURS.get(tone or "")
        return f"\x1b[{code}m{text}\x1b[0m" if self.on and code else text


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Left-aligned columns, header first; paint whole lines afterwards so columns line up."""
    body = [list(row) for row in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *body, strict=False)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(headers)] + [line(row) for row in body]


def relative(when: datetime, now: datetime) -> str:
    """'in 2h 05m', '3m 10s ago', 'in 1d 13h', 'now': the two largest units, for people."""
    seconds = round((when - now).total_seconds())
    if seconds == 0:
        return "now"
    left = abs(seconds)
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    text = ""
    for i, (unit, size) in enumerate(units):
        if left >= size:
            amount, rest = divmod(left, size)
            text = f"{amount}{unit}"
            if i + 1 < len(units):
                small, small_size = units[i + 1]
                text += f" {rest // small_size:02d}{small}"
            break
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def local_text(when: datetime, zone: str) -> str:
    """'Mon 23 Nov 17:00 America/Chicago': how the workflow writes due times."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone = ZoneInfo("UTC"), "UTC"
    return f"{when.astimezone(tz):%a %d %b %H:%M} {zone}"


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def tone(cycle: dict[str, Any]) -> str | None:
    """met / warned (a warning went out, not breached) / breached / running; None otherwise."""
    status = cycle.get("status")
    if status in ("met", "breached"):
        return str(status)
    if status in ("running", "paused"):
        if any(w.get("sent_at") for w in cycle.get("warnings", [])):
            return "warned"
        return "running"
    return None


def _clock_row(cycle: dict[str, Any], zone: str, now: datetime) -> list[str]:
    status = str(cycle.get("status"))
    sent = [w for w in cycle.get("warnings", []) if w.get("sent_at")]
    if tone(cycle) == "warned":
        status += f" (warned {sent[-1].get('label')})"
    due_at = _parse_dt(cycle.get("due_at"))
    due = cycle.get("due_text") or (local_text(due_at, zone) if due_at else "-")
    if due_at and cycle.get("status") in ("running", "paused"):
        due += f" ({relative(due_at, now)})"
    detail = ""
    if cycle.get("met_at"):
        detail = f"met {local_text(_parse_dt(cycle['met_at']) or now, zone)}"
    elif cycle.get("breached_at"):
        detail = f"breached {local_text(_parse_dt(cycle['breached_at']) or now, zone)}"
    elif cycle.get("status") in ("running", "paused"):
        pending = [w for w in cycle.get("warnings", []) if not w.get("sent_at")]
        pending = [w for w in pending if not w.get("skipped")]
        if pending:
            detail = f"warning {pending[0].get('label')} at {pending[0].get('text')}"
    elif cycle.get("ended_reason"):
        detail = str(cycle["ended_reason"])
    return [
        str(cycle.get("clock")),
        str(cycle.get("cycle")),
        status,
        due,
        str(cycle.get("target_text") or ""),
        detail,
    ]


def clock_table(view: dict[str, Any], paint: Painter, now: datetime) -> list[str]:
    cycles = view.get("clocks", [])
    if not cycles:
        return ["no clock has started (intake incomplete?)"]
    zone = str(view.get("timezone") or "UTC")
    lines = table(
        ("CLOCK", "#", "STATUS", "DUE", "TARGET", "DETAIL"),
        [_clock_row(c, zone, now) for c in cycles],
    )
    return [lines[0]] + [paint(line, tone(c)) for line, c in zip(lines[1:], cycles, strict=True)]


def next_deadline_line(view: dict[str, Any], now: datetime) -> str:
    clock = view.get("next_deadline_clock")
    due_at = _parse_dt(view.get("next_deadline"))
    if not clock or not due_at:
        return f"No running clock (status {view.get('status')})."
    text = local_text(due_at, str(view.get("timezone") or "UTC"))
    for cycle in view.get("clocks", []):
        if cycle.get("clock") == clock and cycle.get("status") in ("running", "paused"):
            text = cycle.get("due_text") or text
    return f"Next deadline: {clock} due {text} ({relative(due_at, now)})"


# Characters that act on a terminal instead of printing: C0/C1 controls (ESC starts escape
# sequences: colours, cursor moves, titles, OSC 52 clipboard writes) and bidi overrides.
_UNSAFE = {
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x061C,
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
}
_SAFE_KEPT = {ord("\n")}


def terminal_text(text: str) -> str:
    """`text` with every terminal control character written visibly (`\\x1b`, `\\u202e`)."""
    if not any(ord(c) in _UNSAFE for c in text):
        return text
    return "".join(
        (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")
        if ord(c) in _UNSAFE and ord(c) not in _SAFE_KEPT
        else c
        for c in text
    )


def terminal_safe(value: Any) -> Any:
    """Every string in a server answer made safe to print (keys too); `--json` needs none:
    `json.dumps` escapes control characters itself."""
    if isinstance(value, str):
        return terminal_text(value)
    if isinstance(value, dict):
        return {terminal_safe(k): terminal_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [terminal_safe(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


# -- commands --------------------------------------------------------------------------------------
def cmd_list(api: Api, args: argparse.Namespace) -> int:
    params: dict[str, str] = {}
    for name in ("policy", "tier", "severity", "state"):
        value = getattr(args, name)
        if value:
            params[name] = value
    if args.breached:
        params["breached"] = "true"
    if args.rank:
        params["rank"] = str(args.rank)
    now = datetime.now(UTC)
    if args.due_within:
        params["due_before"] = (now + args.due_within).isoformat()
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(items) < args.limit:
        page_params = {**params, "limit": str(min(PAGE_MAX, args.limit - len(items)))}
        if cursor:
            page_params["cursor"] = cursor
        page = api.call("GET", "/v1/tickets", params=page_params)
        items += page.get("items", [])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if args.json:
        _print_json(items)
        return 0
    if not items:
        print("no tickets match")
        return 0
    items = terminal_safe(items)
    paint = Painter(sys.stdout, args.color)
    rows = []
    for item in items:
        due_at = _parse_dt(item.get("next_deadline"))
        due = f"{relative(due_at, now)} ({local_text(due_at, 'UTC')})" if due_at else "-"
        rows.append(
            [
                str(item.get("key")),
                str(item.get("policy") or "-"),
                str(item.get("severity") or "-"),
                str(item.get("state") or "-"),
                due,
                ", ".join(item.get("breached_clocks") or []) or "-",
            ]
        )
    lines = table(("KEY", "POLICY", "SEVERITY", "STATE", "NEXT DEADLINE", "BREACHED"), rows)
    print(lines[0])
    for line, item in zip(lines[1:], items, strict=True):
        print(paint(line, "breached" if item.get("breached") else None))
    if cursor:
        print(f"(more tickets match: raise --limit, now {args.limit})")
    return 0


def _severity_text(item: dict[str, Any]) -> str:
    """'P1 (rank 1)': the policy's own name and the common rank."""
    label = str(item.get("severity_label") or item.get("severity") or "-")
    return f"{label} (rank {item['rank']})" if item.get("rank") else label


def span_text(seconds: float | None) -> str:
    """'2h 05m', '3d 4h', '45m', '30s'; past as '-1h 10m'; None as '-'."""
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    left = round(abs(seconds))
    if left < 60:
        return f"{sign}{left}s"
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {rest // 60:02d}m"
    return f"{sign}{rest // 60}m"


def span_of_delta(delta: timedelta) -> str:
    return span_text(delta.total_seconds())


def due_state(item: dict[str, Any]) -> str:
    """breached (a clock of the ticket breached) / overdue / warned / ok."""
    due = item.get("due") or {}
    if item.get("breached"):
        return "breached"
    if due.get("wall_seconds_left") is not None and due["wall_seconds_left"] < 0:
        return "overdue"
    if due.get("warned"):
        return f"warned {due.get('warning')}"
    return "paused" if due.get("paused") else "ok"


def cmd_due(api: Api, args: argparse.Namespace) -> int:
    """Open tickets by next deadline, soonest first (GET /v1/tickets?sort=next_deadline)."""
    now = datetime.now(UTC)
    params = {"sort": "next_deadline", "limit": str(min(args.limit, PAGE_MAX))}
    if args.within:
        params["due_before"] = (now + args.within).isoformat()
    if args.rank:
        params["rank"] = str(args.rank)
    if args.policy:
        params["policy"] = args.policy
    page = api.call("GET", "/v1/tickets", params=params)
    items: list[dict[str, Any]] = page.get("items", [])
    if args.json:
        _print_json(items)
        return 0
    if not items:
        print("nothing is due" + (f" within {span_of_delta(args.within)}" if args.within else ""))
        return 0
    items = terminal_safe(items)
    paint = Painter(sys.stdout, args.color)
    rows = []
    for item in items:
        due = item.get("due") or {}
        due_at = _parse_dt(due.get("due_at") or item.get("next_deadline"))
        zone = str(due.get("timezone") or "UTC")
        wall = due.get("wall_seconds_left")
        if wall is None and due_at is not None:
            wall = (due_at - now).total_seconds()
        rows.append(
            [
                str(item.get("key")),
                str(item.get("policy") or "-"),
                _severity_text(item),
                str(due.get("clock") or "-"),
                local_text(due_at, zone) if due_at else "-",
                f"{due_at.astimezone(UTC):%a %d %b %H:%M} UTC" if due_at else "-",
                span_text(due.get("business_seconds_left")) if due.get("business") else "24x7",
                span_text(wall),
                due_state(item),
            ]
        )
    lines = table(
        (
            "KEY",
            "POLICY",
            "SEVERITY",
            "CLOCK",
            "DUE (LOCAL)",
            "DUE (UTC)",
            "LEFT (BUSINESS)",
            "LEFT (WALL)",
            "STATE",
        ),
        rows,
    )
    print(lines[0])
    for line, row in zip(lines[1:], rows, strict=True):
        state = row[-1]
        tone_of = "breached" if state in ("breached", "overdue") else None
        print(paint(line, "warned" if state.startswith("warned") else tone_of))
    if page.get("truncated"):
        print("(more than 1000 tickets matched: narrow with --within, --rank or --policy)")
    return 0


def cmd_show(api: Api, args: argparse.Namespace) -> int:
    key = _ticket_key(args.key)
    view = api.call("GET", f"/v1/tickets/{key}", key=key)
    # Explain the next deadline; with none running, the latest breach.
    clock = view.get("next_deadline_clock")
    breached = [c for c in view.get("clocks", []) if c.get("status") == "breached"]
    if not clock and breached:
        clock = breached[-1].get("clock")
    explanation = api.call("GET", f"/v1/tickets/{key}/explain/{clock}", key=key) if clock else None
    if args.json:
        _print_json({"ticket": view, "explanation": explanation})
        return 0
    view, explanation = terminal_safe(view), terminal_safe(explanation)
    now = datetime.now(UTC)
    paint = Painter(sys.stdout, args.color)
    zone = str(view.get("timezone") or "UTC")
    opened = _parse_dt(view.get("opened_at"))
    print(f"{view.get('key')}  {view.get('subject') or '(no subject)'}")
    print(
        f"  {view.get('policy')} (version {view.get('policy_version')}) · tier {view.get('tier')}"
        f" · {view.get('severity_label')} · status {view.get('status')}"
    )
    if view.get("cap_reason"):
        print(f"  severity capped from {view.get('requested_severity')}: {view['cap_reason']}")
    print(
        f"  opened {local_text(opened, zone) if opened else '-'}"
        f" · calendar {view.get('calendar')} ({zone})"
        + (f" · commander {view['incident_commander']}" if view.get("incident_commander") else "")
    )
    if view.get("breached_clocks"):
        print("  " + paint(f"breached: {', '.join(view['breached_clocks'])}", "breached"))
    print()
    for line in clock_table(view, paint, now):
        print(line)
    print()
    print(next_deadline_line(view, now))
    if not view.get("next_deadline_clock") and breached:
        due_at = _parse_dt(breached[-1].get("due_at"))
        when = f"{breached[-1].get('due_text')} ({relative(due_at, now)})" if due_at else "-"
        print(paint(f"Last breach: {clock} was due {when}", "breached"))
    if explanation and explanation.get("text"):
        wrap = textwrap.TextWrapper(100, "  ", "  ", break_on_hyphens=False)
        print(wrap.fill(str(explanation["text"])))
    return 0


def _eta(value: str) -> str:
    """An aware ISO 8601 instant, or '+2h' meaning that long from now."""
    text = value.strip()
    if text.startswith("+"):
        try:
            duration = parse_duration(text[1:])
        except DurationError as exc:
            raise CliError(f"--eta: {exc}", 2) from None
        if duration.business or duration.fixed is None:
            raise CliError("--eta: a relative ETA is wall-clock time, e.g. +2h", 2)
        return (datetime.now(UTC) + duration.fixed).isoformat()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CliError(
            f"--eta: {value!r} is not an instant with an offset; write e.g. "
            "2026-11-23T10:00:00Z or +2h",
            2,
        )
    return parsed.isoformat()


def _default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def action_body(action: str, args: argparse.Namespace) -> dict[str, Any]:
    """The request body for `action` from the flags given; `CliError` (2) for a wrong flag."""
    spec = ACTIONS[action]
    body: dict[str, Any] = {"actor": args.actor or _default_actor()}
    given = {field: getattr(args, field) for field in _BODY_FIELDS}
    for field, value in given.items():
        if value is None:
            continue
        if field not in spec.fields:
            takes = ", ".join(flag_for(f) for f in spec.fields) or "no flags besides --actor"
            raise CliError(f"{flag_for(field)} does not apply to {action} (it takes {takes})", 2)
        if field == "next_update_eta":
            value = _eta(value)
        elif field == "fields":
            pairs = {}
            for item in value:
                name, sep, text = item.partition("=")
                if not sep or not name.strip():
                    raise CliError(f"--field: {item!r} is not NAME=VALUE", 2)
                pairs[name.strip()] = text
            value = pairs
        body[field] = value
    missing = [flag_for(f) for f in spec.required if f not in body]
    if missing:
        raise CliError(f"{action} needs {' and '.join(missing)}", 2)
    return body


def cmd_act(api: Api, args: argparse.Namespace) -> int:
    key = _ticket_key(args.key)
    body = action_body(args.action, args)
    view = api.call("POST", f"/v1/tickets/{key}/{ACTIONS[args.action].path}", key=key, json=body)
    if args.json:
        _print_json(view)
        return 0
    view = terminal_safe(view)
    now = datetime.now(UTC)
    print(f"{key}: {args.action} accepted; status {view.get('status')}")
    for line in clock_table(view, Painter(sys.stdout, args.color), now):
        print(line)
    print(next_deadline_line(view, now))
    return 0


# -- wiring ----------------------------------------------------------------------------------------
def _run(command: Callable[[Api, argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            api = connect()
            try:
                code = command(api, args)
                sys.stdout.flush()  # a closed pipe shows here, not at exit
                return code
            finally:
                api.close()
        except CliError as exc:
            print(f"{PROG}: {terminal_text(exc.message)}", file=sys.stderr)
            return exc.code
        except BrokenPipeError:
            return closed_pipe()

    return run


def closed_pipe() -> int:
    """The reader went away (`... | head`): stop quietly, like other Unix tools.

    Python would print a traceback, then 'Exception ignored' when it flushes stdout at exit;
    pointing stdout at /dev/null ends both (docs.python.org, signal: "Note on SIGPIPE").
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 0


def _duration(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except DurationError:
        duration = None
    if duration is None or duration.business or duration.fixed is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 1h, 30m, 2d")
    return duration.fixed


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API's answer as JSON")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the output (auto: on a terminal, unless NO_COLOR is set)",
    )


def register(subparsers: Any) -> None:
    tickets = subparsers.add_parser(
        "tickets",
        help="list, show and act on tickets through the HTTP API",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = tickets.add_subparsers(dest="tickets_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="tickets from Temporal visibility, filtered")
    p.add_argument("--breached", action="store_true", help="only tickets with a breached clock")
    p.add_argument("--policy", help="a catalogue policy id")
    p.add_argument("--tier", help="a tier id")
    p.add_argument("--severity", help="an effective severity id of one policy, e.g. sev1")
    p.add_argument(
        "--rank",
        type=int,
        choices=range(1, 5),
        metavar="N",
        help="common severity rank 1 (most urgent) .. 4, across policies (P1, Sev1, Urgent: 1)",
    )
    p.add_argument("--state", choices=[s.value for s in TicketStatus], help="a ticket status")
    p.add_argument(
        "--due-within", type=_duration, metavar="DURATION", help="next deadline within, e.g. 1h"
    )
    p.add_argument("--limit", type=_positive, default=50, help="at most this many (50)")
    _common(p)
    p.set_defaults(func=_run(cmd_list))

    p = sub.add_parser(
        "due",
        help="open tickets by next deadline, soonest first: what breaches next",
        description="Open tickets with a running clock, soonest deadline first: the clock, when"
        " it is due (the calendar's zone and UTC), the time left in business and in wall time,"
        " and whether it is warned or breached (GET /v1/tickets?sort=next_deadline).",
    )
    p.add_argument(
        "--within",
        type=_duration,
        metavar="DURATION",
        help="only deadlines within this much wall time, e.g. 4h (default: no limit)",
    )
    p.add_argument(
        "--rank", type=int, choices=range(1, 5), metavar="N", help="common severity rank 1..4"
    )
    p.add_argument("--policy", help="a catalogue policy id")
    p.add_argument(
        "--limit", type=_positive, default=50, help="at most this many (50; the API's most: 200)"
    )
    _common(p)
    p.set_defaults(func=_run(cmd_due))

    p = sub.add_parser(
        "show", help="one ticket: its clocks and why the next deadline is what it is"
    )
    p.add_argument("key", help="the ticket key, e.g. ZD-48213")
    _common(p)
    p.set_defaults(func=_run(cmd_show))

    lines = [
        f"  {name:<20} POST /v1/tickets/KEY/{spec.path:<20}"
        + ", ".join(flag_for(f) + ("*" if f in spec.required else "") for f in spec.fields)
        for name, spec in ACTIONS.items()
    ]
    p = sub.add_parser(
        "act",
        help="apply an action (acknowledge, update, resolve, ...) to a ticket",
        description="Each ACTION, the API route it calls and the flags it takes (* required):\n"
        + "\n".join(lines),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("key", help="the ticket key")
    p.add_argument("action", choices=list(ACTIONS), metavar="ACTION", help="see below")
    p.add_argument("--actor", help="who acts, e.g. agent:jane (default cli:<your user name>)")
    p.add_argument("--message", help="the public message")
    p.add_argument(
        "--eta",
        "--next-update-eta",
        dest="next_update_eta",
        metavar="WHEN",
        help="when the customer hears next: 2026-11-23T10:00:00Z, or +2h",
    )
    p.add_argument("--note", help="an internal note")
    p.add_argument("--commander", help="the incident commander")
    p.add_argument("--severity", help="the new severity id, e.g. sev1")
    p.add_argument("--reason", help="why")
    p.add_argument("--solution", help="the final solution")
    p.add_argument("--link", help="the review document")
    p.add_argument(
        "--field",
        dest="fields",
        action="append",
        metavar="NAME=VALUE",
        help="an intake field (repeat for several)",
    )
    p.add_argument(
        "--event-id",
        help="the id of the event this action comes from; a repeat of a recently applied one "
        "is refused (DuplicateEvent)",
    )
    _common(p)
    p.set_defaults(func=_run(cmd_act))
