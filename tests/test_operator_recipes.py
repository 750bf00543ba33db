"""Every recipe in docs/operators.md, run as written against the dev server with real tickets.

A recipe is a code block opened with ```` ```sh recipe <name> ````. It runs in bash with `ADDR`
(the dev server's frontend) and `KEY` (a ticket key) set, the way the page tells readers to set
them, and with the Temporal CLI and this Python first on PATH.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from plumbing.binaries import temporal_cli
from tests.support import unique
from tests.support.api import ALL, Served, api_settings
from ticketclock.worker import build_worker
from workflows.contract import ticket_workflow_id
from workflows.messages import TicketView
from workflows.ticket import TicketWorkflow
from workflows.views import CELL_GAP

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "operators.md"
RECIPE = re.compile(r"^```sh recipe ([a-z0-9-]+)\n(.*?)^```$", re.M | re.S)
PATIENCE_S = 20.0
RECIPE_TIMEOUT_S = 30.0


def recipes() -> dict[str, str]:
    found: dict[str, str] = {}
    for name, body in RECIPE.findall(DOC.read_text()):
        assert name not in found, f"recipe {name} twice in {DOC.name}"
        found[name] = body
    return found


TESTED = {
    "breached",
    "breached-first-response",
    "due-next-hour",
    "by-policy-severity",
    "count-breached",
    "describe",
    "query",
    "history",
    "history-json",
    "replay",
    "acknowledge",
    "signal",
}


@dataclass
class Ran:
    code: int
    out: str
    err: str


@dataclass
class Tickets:
    addr: str
    client: Client
    breached: str  # Sev1 opened 3 days ago: first_response breached
    due_soon: str  # Sev1 opened 23.5 h ago: first_response due in 30 minutes
    fresh: str  # Sev1 opened now: due in 24 h
    acted: str  # Sev1 opened now, for the action recipes

    @property
    def all(self) -> list[str]:
        return [self.breached, self.due_soon, self.fresh, self.acted]

    async def status(self, key: str) -> TicketView:
        handle = self.client.get_workflow_handle(ticket_workflow_id(key))
        view: TicketView = await handle.query(TicketWorkflow.status)
        return view


@pytest.fixture(scope="module")
async def tickets(dev_env: WorkflowEnvironment) -> AsyncIterator[Tickets]:
    settings = api_settings(unique("ops"))
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    now = datetime.now(UTC)
    found = Tickets(
        addr=client.service_client.config.target_host,
        client=client,
        breached=unique("OPS-B"),
        due_soon=unique("OPS-H"),
        fresh=unique("OPS-F"),
        acted=unique("OPS-A"),
    )
    opened = {
        found.breached: now - timedelta(days=3),
        found.due_soon: now - timedelta(hours=23, minutes=30),
        found.fresh: None,
        found.acted: None,
    }
    async with (
        build_worker(client, settings),
        Served(create_app(settings, client_factory)) as served,
        httpx.AsyncClient(
            base_url=served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
        ) as http,
    ):
        for key, at in opened.items():
            body: dict[str, Any] = {
                "key": key,
                "policy": "confluence-health-check",
                "tier": "standard",
                "severity": "sev1",  # first response 24 h, 24x7
                "subject": "Wiki down",
            }
            if at is not None:
                body["opened_at"] = at.isoformat()
            reply = await http.post("/v1/tickets", json=body)
            assert reply.status_code == 201, reply.text
        yield found


def _path() -> str:
    """The Temporal CLI and this Python (`python -m drills.replay`) first."""
    first = [Path(temporal_cli()).parent, Path(sys.executable).parent]
    return os.pathsep.join([*map(str, first), os.environ["PATH"]])


async def run_script(script: str, cwd: Path, addr: str, key: str) -> Ran:
    env = {**os.environ, "ADDR": addr, "KEY": key, "PATH": _path(), "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        script,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), RECIPE_TIMEOUT_S)
    return Ran(proc.returncode or 0, out.decode(), err.decode())


async def run(name: str, cwd: Path, addr: str, key: str = "UNSET") -> Ran:
    return await run_script(recipes()[name], cwd, addr, key)


async def until(name: str, t: Tickets, cwd: Path, ok: Callable[[str], bool]) -> str:
    """Run a list recipe until its output satisfies `ok` (visibility lags behind the tickets)."""
    deadline = time.monotonic() + PATIENCE_S
    while True:
        ran = await run(name, cwd, t.addr)
        assert ran.code == 0, ran.err
        if ok(ran.out):
            return ran.out
        assert time.monotonic() < deadline, f"recipe {name}: still\n{ran.out}"
        await asyncio.sleep(0.5)


def listed(out: str) -> set[str]:
    return set(re.findall(r"\bticket-(\S+)", out))


def json_documents(text: str) -> list[Any]:
    """The JSON documents printed one after the other."""
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    rest = text.strip()
    while rest:
        doc, end = decoder.raw_decode(rest)
        docs.append(doc)
        rest = rest[end:].lstrip()
    return docs


def test_every_recipe_is_tested() -> None:
    assert set(recipes()) == TESTED


async def test_list_recipes(tickets: Tickets, tmp_path: Path) -> None:
    t = tickets
    everyone = set(t.all)

    out = await until("by-policy-severity", t, tmp_path, lambda o: everyone <= listed(o))
    assert "TicketWorkflow" in out

    out = await until("breached", t, tmp_path, lambda o: t.breached in listed(o))
    assert listed(out) & everyone == {t.breached}

    out = await until("breached-first-response", t, tmp_path, lambda o: t.breached in listed(o))
    assert listed(out) & everyone == {t.breached}

    out = await until("due-next-hour", t, tmp_path, lambda o: t.due_soon in listed(o))
    assert listed(out) & everyone == {t.due_soon}  # the breached one has no running clock

    ran = await run("count-breached", tmp_path, t.addr)
    assert ran.code == 0, ran.err
    match = re.search(r"Total: (\d+)", ran.out)
    assert match and int(match[1]) >= 1, ran.out


async def test_reading_recipes(tickets: Tickets, tmp_path: Path) -> None:
    t = tickets
    view = await t.status(t.fresh)
    [first] = [c for c in view.clocks if c.clock == "first_response"]
    [warning] = first.warnings

    ran = await run("describe", tmp_path, t.addr, t.fresh)
    assert ran.code == 0, ran.err
    assert "confluence-health-check standard Sev1: Wiki down" in ran.out  # static summary
    assert f"**Ticket** {t.fresh}" in ran.out  # static details
    assert "Current Details" in ran.out
    # The cells carry em-space gaps (workflows/views.py: the UI draws tables unpadded).
    table = ran.out.replace(CELL_GAP, "")
    assert f"| first_response | 1 | running | {first.due_text} | 24h |" in table

    ran = await run("query", tmp_path, t.addr, t.fresh)
    assert ran.code == 0, ran.err
    status, explain = (doc["queryResult"][0] for doc in json_documents(ran.out))
    assert (status["key"], status["status"]) == (t.fresh, "awaiting_first_response")
    assert explain["clock"] == "first_response"
    assert "target 24h" in explain["text"]

    ran = await run("history", tmp_path, t.addr, t.fresh)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert (
        lines[0] == "[1] WorkflowExecutionStarted  confluence-health-check standard Sev1: Wiki down"
    )
    timer = f"TimerStarted  first_response warning (75%) at {warning.text} — Sev1, 24h"
    assert any(re.fullmatch(rf"\[\d+\] {re.escape(timer)}", line) for line in lines), ran.out
    assert any(line.endswith("compute first_response #1 deadline") for line in lines)


async def test_action_recipes(tickets: Tickets, tmp_path: Path) -> None:
    t = tickets
    ran = await run("acknowledge", tmp_path, t.addr, t.acted)
    assert ran.code == 0, ran.err
    result = json.loads(ran.out)["result"]
    assert result["status"] == "in_progress"
    clocks = {(c["clock"], c["status"]) for c in result["clocks"]}
    assert {("first_response", "met"), ("next_update", "running")} <= clocks
    view = await t.status(t.acted)
    assert [e.actor for e in view.events if e.action == "acknowledge"] == ["ops:me"]

    ran = await run("signal", tmp_path, t.addr, t.acted)
    assert ran.code == 0, ran.err
    deadline = time.monotonic() + PATIENCE_S
    while (view := await t.status(t.acted)).status != "waiting_on_customer":
        assert time.monotonic() < deadline, view.status
        await asyncio.sleep(0.1)
    [update] = [c for c in view.clocks if c.clock == "next_update"]
    # 004 4.: updates "at least every 60 minutes until mitigation": the cadence does not pause
    # (its [lifecycle] next_update_pauses_while_waiting = false).
    assert update.status == "running"
    [event] = [e for e in view.events if e.action == "request_customer_info"]
    assert (event.actor, event.via, event.accepted) == ("ops:me", "signal", True)

    # The refusal the page promises: exit 1 naming the type, nothing recorded.
    script = recipes()["acknowledge"]
    without_eta = script.replace(', "next_update_eta": "\'"$ETA"\'"', "")
    assert without_eta != script
    before = await t.status(t.fresh)
    ran = await run_script(without_eta, tmp_path, t.addr, t.fresh)
    assert ran.code == 1, ran
    assert "EtaRequired" in ran.err
    after = await t.status(t.fresh)
    assert (after.status, after.events) == (before.status, before.events)


async def test_history_json_and_replay_recipes(tickets: Tickets, tmp_path: Path) -> None:
    t = tickets
    ran = await run("history-json", tmp_path, t.addr, t.breached)
    assert ran.code == 0, ran.err
    history = json.loads((tmp_path / "h.json").read_text())
    assert history["events"][0]["eventType"] in (
        "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
        "WorkflowExecutionStarted",
    )
    ran = await run("replay", tmp_path, t.addr, t.breached)
    assert ran.code == 0, ran.out + ran.err
