"""`ticketclock demo`: open a handful of tickets from each catalogue policy on a running stack.

Goes through the HTTP API like any helpdesk would (TICKETCLOCK_API_URL, default the dev stack's
`http://127.0.0.1:TICKETCLOCK_API_PORT`; token TICKETCLOCK_TOKEN or TICKETCLOCK_DEV_TOKEN, else
the token of the `make run` stack on this data dir). Keys
are `DEMO-<policy>-<n>`; creation is idempotent, so running it twice opens nothing new. A policy
whose targets are not configured (Kong ships without its response-time table) is skipped with
the reason, unless an override in TICKETCLOCK_POLICY_DIRS supplies them.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from plumbing.settings import Settings, SettingsError, data_path, load_settings
from ticketclock.api_client import ApiClient, ApiUnreachable, error_text
from ticketclock.devstack import TOKEN_FILENAME

# Customer attributes a policy may use to pick a calendar; each ticket takes the next one.
_CUSTOMERS = (
    {"name": "Acme Corp", "timezone": "Europe/Berlin", "region": "EMEA"},
    {"name": "Globex", "timezone": "America/Chicago", "region": "Americas"},
    {"name": "Initech", "timezone": "Asia/Singapore", "region": "AP/ANZ"},
)
_SUBJECTS = (
    "Production cluster unreachable",
    "Intermittent 502s from the gateway",
    "Question about upgrade path",
    "Dashboard shows stale metrics",
    "Request for configuration review",
)


class DemoError(RuntimeError):
    """The API could not be used (unreachable, bad token); the message says what to check."""


def api_url(settings: Settings) -> str:
    return (settings.api_url or f"http://127.0.0.1:{settings.api_port}").rstrip("/")


def running_dev_token(settings: Settings) -> str | None:
    """The token of the `make run` stack using this data dir, if one is running."""
    try:
        return (data_path(settings) / TOKEN_FILENAME).read_text().strip() or None
    except OSError:
        return None


def pick(tiers: list[str], severities: list[str], count: int) -> list[tuple[str, str]]:
    """`count` distinct tier x severity pairs spread over the grid, diagonal by diagonal."""
    cells = [(i, j) for i in range(len(tiers)) for j in range(len(severities))]
    cells.sort(key=lambda ij: ((ij[1] - ij[0]) % len(severities), ij[0]))
    return [(tiers[i], severities[j]) for i, j in cells[:count]]


def _next_due(view: dict[str, Any]) -> str:
    clock = view.get("next_deadline_clock")
    if not clock:
        return f"status {view.get('status')}, no running clock"
    for cycle in view.get("clocks", []):
        if cycle.get("clock") == clock and cycle.get("status") in ("running", "paused"):
            return f"{clock} due {cycle.get('due_text') or cycle.get('due_at')}"
    return f"{clock} due {view.get('next_deadline')}"


class Demo:
    def __init__(self, http: ApiClient, per_policy: int, prefix: str) -> None:
        self.http = http
        self.per_policy = per_policy
        self.prefix = prefix

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            reply = self.http.request(method, path, **kwargs)
        except ApiUnreachable as exc:
            raise DemoError(f"{exc.message} (is `make run` running?)") from None
        if reply.status_code in (401, 403):
            raise DemoError(
                f"{method} {path}: {reply.status_code} {error_text(reply)} "
                "(set TICKETCLOCK_TOKEN, or TICKETCLOCK_DEV_TOKEN to the token `make run` printed)"
            )
        if reply.status_code == 503:
            raise DemoError(f"{method} {path}: 503 {error_text(reply)} (is Temporal up?)")
        return reply

    def run(self) -> int:
        reply = self._call("GET", "/v1/policies")
        if reply.status_code != 200:
            raise DemoError(f"GET /v1/policies: {reply.status_code} {error_text(reply)}")
        opened = 0
        for policy in reply.json():
            opened += self.open_for(policy)
        opened += self.open_states()
        print(f"\n{opened} demo ticket(s) open. What breaches next: ticketclock tickets due,")
        print("or the board: /board on the API (sign in with the dev token)")
        return 0 if opened else 1

    # Confluence Health Check Sev1: 24 h first response, 24x7, a warning at 75% (18 h). Opened
    # back in time, so the board, the report and the UI show every state at once.
    STATES = (
        ("breached", timedelta(hours=25), "first response breached an hour ago"),
        ("warned", timedelta(hours=18, minutes=5), "warned at 75%, 5h 55m left"),
        ("near-warning", timedelta(hours=17, minutes=50), "its 75% warning in 10 minutes"),
        ("near-breach", timedelta(hours=23, minutes=45), "breaches in 15 minutes"),
    )

    def open_states(self) -> int:
        print("\nconfluence-health-check: tickets in every state (opened back in time)")
        opened = 0
        now = datetime.now(UTC)
        for name, ago, what in self.STATES:
            key = f"{self.prefix}-{name}"
            body = {
                "key": key,
                "policy": "confluence-health-check",
                "tier": "standard",
                "severity": "sev1",
                "customer": _CUSTOMERS[0],
                "channel": "portal",
                "subject": f"Demo: {what}",
                "opened_at": (now - ago).isoformat(),
            }
            created = self._call("POST", "/v1/tickets", json=body)
            if created.status_code in (200, 201):
                opened += 1
                print(f"  {key:<34} {what:<40} {_next_due(created.json())}")
            elif created.status_code == 409:  # opened by an earlier run, at another instant
                opened += 1
                print(f"  {key:<34} exists (opened by an earlier run)")
            else:
                print(f"  refused {key}: {created.status_code} {error_text(created)}")
        return opened

    def open_for(self, policy: dict[str, Any]) -> int:
        pid = policy["id"]
        print(f"\n{pid}: {policy['name']}")
        opened = 0
        refusals: list[str] = []
        pairs = pick(list(policy["tiers"]), list(policy["severities"]), self.per_policy)
        for n, (tier, severity) in enumerate(pairs, start=1):
            customer = _CUSTOMERS[n % len(_CUSTOMERS)]
            terms = {"tier": tier, "severity": severity, "customer": customer}
            preview = self._call("POST", f"/v1/policies/{pid}/preview", json=terms)
            if preview.status_code != 200:
                refusals.append(f"{tier}/{severity}: {error_text(preview)}")
                continue
            required = preview.json().get("intake_required", [])
            # The last ticket of a policy that demands intake stays incomplete, to show the
            # "no SLA until intake is complete" state; the others carry every field.
            intake = {} if required and n == len(pairs) else {f: "demo" for f in required}
            key = f"{self.prefix}-{pid}-{n}"
            body = {
                "key": key,
                "policy": pid,
                **terms,
                "channel": "portal",
                "subject": _SUBJECTS[(n - 1) % len(_SUBJECTS)],
                "intake": intake,
            }
            created = self._call("POST", "/v1/tickets", json=body)
            if created.status_code in (200, 201):
                opened += 1
                word = "opened" if created.status_code == 201 else "exists"
                print(
                    f"  {key:<34} {tier + '/' + severity:<18} {word:<7} {_next_due(created.json())}"
                )
            else:
                refusals.append(f"{key}: {created.status_code} {error_text(created)}")
        if not opened and refusals:
            print(f"  skipped: {refusals[0]}")
            print("  (an override file in TICKETCLOCK_POLICY_DIRS can supply missing targets)")
        else:
            for refusal in refusals:
                print(f"  refused {refusal}")
        return opened


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ticketclock demo: {exc}", file=sys.stderr)
        return 2
    token = settings.cli_token or settings.dev_token or running_dev_token(settings)
    if not token:
        print(
            "ticketclock demo: no token: set TICKETCLOCK_TOKEN (or TICKETCLOCK_DEV_TOKEN) to the "
            "dev token `make run` printed",
            file=sys.stderr,
        )
        return 2
    url = (args.api_url or api_url(settings)).rstrip("/")
    print(f"ticketclock demo: opening tickets on {url}")
    try:
        with ApiClient(url, token) as http:
            return Demo(http, args.per_policy, args.prefix).run()
    except (DemoError, ApiUnreachable) as exc:
        print(f"ticketclock demo: {exc}", file=sys.stderr)
        return 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="open a handful of tickets from each catalogue policy on a running stack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--per-policy", type=int, default=4, help="tickets per policy (4)")
    parser.add_argument("--prefix", default="DEMO", help="ticket key prefix (DEMO)")
    parser.add_argument("--api-url", help="default: TICKETCLOCK_API_URL or the dev stack's")
    parser.set_defaults(func=_run)
