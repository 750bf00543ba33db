"""`ticketclock tickets` end to end: the CLI against a real API (uvicorn), dev server and worker.

The CLI is synchronous; it runs in a thread (`asyncio.to_thread`) so the API served in this
test's event loop can answer it.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from plumbing.processes import free_port
from tests.support import unique
from tests.support.api import ALL, READER, Served, api_settings
from ticketclock import cli_tickets
from ticketclock.cli import build_parser, main
from ticketclock.worker import build_worker
from workflows.actions import ACTIONS as API_ACTIONS

VISIBILITY_PATIENCE_S = 20.0


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
async def api_url(dev_env: WorkflowEnvironment) -> AsyncIterator[str]:
    """API + worker on a fresh task queue, served over real HTTP."""
    settings = api_settings(unique("cli"))
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    async with build_worker(client, settings), Served(create_app(settings, client_factory)) as s:
        yield s.url


@pytest.fixture
def env(api_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TICKETCLOCK_API_URL", api_url)
    monkeypatch.setenv("TICKETCLOCK_TOKEN", ALL)
    monkeypatch.delenv("TICKETCLOCK_DEV_TOKEN", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return api_url


async def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> Ran:
    code = await asyncio.to_thread(main, ["tickets", *argv])
    out, err = capsys.readouterr()
    return Ran(code, out, err)


async def open_ticket(url: str, key: str, *, opened_at: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": key,
        "policy": "confluence-health-check",
        "tier": "standard",
        "severity": "sev1",  # 24 h first response, 24x7
        "subject": "Wiki down",
    }
    if opened_at is not None:
        body["opened_at"] = opened_at.isoformat()
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        reply = await http.post(
            "/v1/tickets", json=body, headers={"Authorization": f"Bearer {ALL}"}
        )
    assert reply.status_code == 201, reply.text
    view: dict[str, Any] = reply.json()
    return view


async def listed(capsys: pytest.CaptureFixture[str], *filters: str, want: set[str]) -> set[str]:
    """Keys `tickets list --json` shows, once all of `want` are there (visibility lags)."""
    deadline = time.monotonic() + VISIBILITY_PATIENCE_S
    while True:
        ran = await cli(capsys, "list", *filters, "--limit", "200", "--json")
        assert ran.code == 0, ran.err
        keys = {row["key"] for row in json.loads(ran.out)}
        if want <= keys:
            return keys
        assert time.monotonic() < deadline, f"{want - keys} never listed by {filters}"
        await asyncio.sleep(0.25)


async def test_list_show_and_act(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    breached, fresh = unique("CLI-B"), unique("CLI-F")
    await open_ticket(env, breached, opened_at=datetime.now(UTC) - timedelta(days=3))
    await open_ticket(env, fresh)
    scope = ("--policy", "confluence-health-check", "--severity", "sev1")

    # list --breached: the breached ticket only
    await listed(capsys, *scope, want={breached, fresh})
    assert fresh not in await listed(capsys, *scope, "--breached", want={breached})
    ran = await cli(capsys, "list", *scope, "--breached", "--limit", "200")
    assert ran.code == 0, ran.err
    header, *rows = ran.out.splitlines()
    assert header.split() == ["KEY", "POLICY", "SEVERITY", "STATE", "NEXT", "DEADLINE", "BREACHED"]
    [row] = [r for r in rows if r.startswith(breached)]
    assert row.split()[1:4] == ["confluence-health-check", "sev1", "awaiting_first_response"]
    assert row.endswith("first_response")
    assert not any(r.startswith(fresh) for r in rows)
    assert "\x1b[" not in ran.out  # not a terminal: no colours

    # list --due-within: the fresh ticket is due in 24 h
    assert fresh in await listed(capsys, *scope, "--due-within", "25h", want={fresh})
    assert fresh not in await listed(capsys, *scope, "--due-within", "1h", want=set())

    # show: the clocks, coloured only when asked
    ran = await cli(capsys, "show", breached)
    assert ran.code == 0, ran.err
    assert "breached: first_response" in ran.out
    [clock_row] = [line for line in ran.out.splitlines() if line.startswith("first_response")]
    assert clock_row.split()[:3] == ["first_response", "1", "breached"]
    assert "Last breach: first_response was due" in ran.out
    assert "target 24h" in ran.out  # the explanation
    coloured = await cli(capsys, "show", breached, "--color", "always")
    assert "\x1b[31mfirst_response  1  breached" in coloured.out

    ran = await cli(capsys, "show", fresh)
    assert ran.code == 0, ran.err
    [clock_row] = [line for line in ran.out.splitlines() if line.startswith("first_response")]
    assert clock_row.split()[:3] == ["first_response", "1", "running"]
    assert "(in 23h 59m)" in clock_row or "(in 1d 00h)" in clock_row
    assert "Next deadline: first_response due" in ran.out

    # act: acknowledge (Sev1 needs an ETA; without it the workflow refuses, 409)
    refused = await cli(capsys, "act", fresh, "acknowledge", "--actor", "agent:jane")
    assert refused.code == 1
    assert refused.out == ""
    assert refused.err.startswith("ticketclock tickets: 409 refused: EtaRequired: ")
    assert refused.err.rstrip().endswith("(flag --eta)")
    ack = ("--actor", "agent:jane", "--message", "On it", "--eta", "+2h")
    ran = await cli(capsys, "act", fresh, "acknowledge", *ack)
    assert ran.code == 0, ran.err
    assert ran.out.startswith(f"{fresh}: acknowledge accepted; status in_progress")
    assert "Next deadline: next_update due" in ran.out
    shown = await cli(capsys, "show", fresh, "--json")
    view = json.loads(shown.out)["ticket"]
    assert view["status"] == "in_progress"
    statuses = {(c["clock"], c["status"]) for c in view["clocks"]}
    assert {("first_response", "met"), ("next_update", "running")} <= statuses
    assert [e["actor"] for e in view["events"] if e["action"] == "acknowledge"] == ["agent:jane"]
    assert json.loads(shown.out)["explanation"]["clock"] == "next_update"


async def test_errors_are_one_line(
    env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = unique("CLI-E")
    await open_ticket(env, key)

    async def fails(code: int, *argv: str) -> str:
        ran = await cli(capsys, *argv)
        assert ran.code == code, (argv, ran)
        assert ran.out == ""
        assert ran.err.count("\n") == 1 and "Traceback" not in ran.err, ran.err
        assert ran.err.startswith("ticketclock tickets: ")
        return ran.err

    assert "404 no ticket" in await fails(1, "show", unique("NOPE"))
    assert "409 refused: EtaRequired" in await fails(1, "act", key, "update")
    assert "422 invalid input: reason" in await fails(1, "act", key, "escalate", "--reason", "")
    assert "resolve needs --solution" in await fails(2, "act", key, "resolve")
    assert "--commander does not apply to close" in await fails(
        2, "act", key, "close", "--commander", "kim"
    )
    assert "is not an instant with an offset" in await fails(
        2, "act", key, "update", "--eta", "2026-11-23T10:00:00"
    )
    assert "is not a ticket key" in await fails(2, "show", "../etc")

    monkeypatch.setenv("TICKETCLOCK_TOKEN", READER)
    assert "403 Forbidden" in await fails(1, "act", key, "close")
    monkeypatch.setenv("TICKETCLOCK_TOKEN", "not-a-known-token-0123456789")
    assert "401 Unauthorized" in await fails(1, "list")
    monkeypatch.delenv("TICKETCLOCK_TOKEN")
    assert "TICKETCLOCK_TOKEN is not set" in await fails(2, "show", key)

    monkeypatch.setenv("TICKETCLOCK_TOKEN", ALL)
    monkeypatch.setenv("TICKETCLOCK_API_URL", f"http://127.0.0.1:{free_port()}")
    assert "connection refused" in await fails(1, "list")
    monkeypatch.setenv("TICKETCLOCK_API_URL", "localhost:8000")
    assert "not an http:// or https:// URL" in await fails(2, "list")
    monkeypatch.delenv("TICKETCLOCK_API_URL")
    assert "TICKETCLOCK_API_URL is not set" in await fails(2, "list")


def test_actions_match_the_api_routes() -> None:
    """Every API action route has one CLI ACTION, under the name the docs use, posting the same
    body model to the same path."""
    api = {route.path: route.model for route in API_ACTIONS}
    cli = {spec.path: spec.model for spec in cli_tickets.ACTIONS.values()}
    assert cli == api
    assert len(cli_tickets.ACTIONS) == len(API_ACTIONS)
    assert set(cli_tickets.ACTIONS) == {
        "acknowledge",
        "update",
        "customer-reply",
        "waiting-on-customer",
        "intake",
        "engineering-ack",
        "incident-commander",
        "severity",
        "mitigate",
        "resolve",
        "reopen",
        "close",
        "review-open",
        "review-complete",
        "escalate",
    }
    act = build_parser().parse_args(["tickets", "act", "K-1", "close"])
    flags = {field for spec in cli_tickets.ACTIONS.values() for field in spec.fields}
    assert flags <= set(vars(act)), "every body field has a flag"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colours_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli_tickets.Painter(_Tty())("x", "met") == "\x1b[32mx\x1b[0m"
    assert cli_tickets.Painter(io.StringIO())("x", "met") == "x"
    assert cli_tickets.Painter(io.StringIO(), "always")("x", "breached") == "\x1b[31mx\x1b[0m"
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli_tickets.Painter(_Tty())("x", "met") == "x"


def test_tones_and_relative_times() -> None:
    warned = {"status": "running", "warnings": [{"label": "75%", "sent_at": "2026-01-01T00:00Z"}]}
    assert cli_tickets.tone(warned) == "warned"
    assert cli_tickets.tone({"status": "running", "warnings": [{"label": "75%"}]}) == "running"
    assert cli_tickets.tone({**warned, "status": "breached"}) == "breached"
    assert cli_tickets.tone({"status": "met"}) == "met"
    assert cli_tickets.tone({"status": "stopped"}) is None
    now = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert cli_tickets.relative(now + timedelta(hours=2, minutes=5), now) == "in 2h 05m"
    assert cli_tickets.relative(now - timedelta(minutes=3, seconds=10), now) == "3m 10s ago"
    assert cli_tickets.relative(now + timedelta(days=1, hours=13), now) == "in 1d 13h"
    assert cli_tickets.relative(now, now) == "now"


async def test_show_escapes_terminal_control_characters(
    env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: a subject is the customer's text; escape sequences in it (clear screen, a
    window title, an OSC 52 clipboard write, a bidi override) must not reach the terminal."""
    key = unique("CLI-ESC")
    hostile = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07 urgent \u202egnp.exe\x9b31m"
    async with httpx.AsyncClient(base_url=env, timeout=30) as http:
        body = {
            "key": key,
            "policy": "confluence-health-check",
            "tier": "standard",
            "severity": "sev3",
            "subject": hostile,
        }
        reply = await http.post(
            "/v1/tickets", json=body, headers={"Authorization": f"Bearer {ALL}"}
        )
        assert reply.status_code == 201, reply.text
        done = await http.post(
            f"/v1/tickets/{key}/acknowledge",
            json={"actor": "agent:\x1b[8mhidden"},
            headers={"Authorization": f"Bearer {ALL}"},
        )
        assert done.status_code == 200, done.text
    for argv in (("show", key), ("show", key, "--color", "always")):
        ran = await cli(capsys, *argv)
        assert ran.code == 0, ran.err
        ours = "|".join(re.escape(code) for code in (*cli_tickets.COLOURS.values(), "0"))
        printable = re.sub(rf"\x1b\[(?:{ours})m", "", ran.out)  # the CLI's own colours
        for raw in ("\x1b", "\x07", "\u202e", "\x9b"):
            assert raw not in printable, (raw, ran.out)
        assert "\\x1b[2J\\x1b]0;pwned\\x07" in ran.out
        assert "\\u202egnp.exe\\x9b31m" in ran.out
    # --json is for scripts: the text as the API holds it, JSON-escaped.
    ran = await cli(capsys, "show", key, "--json")
    assert json.loads(ran.out)["ticket"]["subject"] == hostile
    assert "\x1b" not in ran.out
