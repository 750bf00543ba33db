"""What breaches next (issue 16): `GET /v1/tickets?sort=next_deadline`, `rank=`, and
`ticketclock tickets due`, against a real API (uvicorn), dev server and worker; and a CLI whose
reader goes away (`ticketclock tickets show X | head`) ends quietly.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from policies.catalog import load_catalog
from tests.support import unique
from tests.support.api import ALL, Served, api_settings
from ticketclock.cli import main
from ticketclock.worker import build_worker

PATIENCE_S = 20.0
CATALOG = load_catalog([])
HEADERS = {"Authorization": f"Bearer {ALL}"}


@pytest.fixture
async def api_url(dev_env: WorkflowEnvironment) -> AsyncIterator[str]:
    settings = api_settings(unique("due"))
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    async with build_worker(client, settings), Served(create_app(settings, client_factory)) as s:
        yield s.url


async def open_ticket(url: str, key: str, policy: str, severity: str, ago: timedelta) -> None:
    body: dict[str, Any] = {
        "key": key,
        "policy": policy,
        "tier": "standard",
        "severity": severity,
        "subject": "due test",
        "opened_at": (datetime.now(UTC) - ago).isoformat(),
    }
    intake = CATALOG.get(policy).intake
    if intake is not None:  # Kubeark: the first response clock starts once intake is complete
        body["intake"] = {field: "given" for field in intake.required}
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=HEADERS) as http:
        reply = await http.post("/v1/tickets", json=body)
    assert reply.status_code == 201, reply.text


async def due_list(url: str, want: set[str], **params: str) -> list[dict[str, Any]]:
    """`sort=next_deadline` rows once every key of `want` is listed (visibility lags)."""
    deadline = time.monotonic() + PATIENCE_S
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=HEADERS) as http:
        while True:
            reply = await http.get(
                "/v1/tickets", params={"sort": "next_deadline", "limit": "200", **params}
            )
            assert reply.status_code == 200, reply.text
            items: list[dict[str, Any]] = reply.json()["items"]
            if want <= {i["key"] for i in items}:
                return items
            assert time.monotonic() < deadline, f"{want} never all listed: {items}"
            await asyncio.sleep(0.25)


async def test_due_sorted_by_next_deadline_across_policies_by_rank(api_url: str) -> None:
    soon, later = unique("DUE-SOON"), unique("DUE-LATER")
    urgent, low = unique("DUE-URGENT"), unique("DUE-LOW")
    # 24x7 24h first response: due in ~1h (warned: 75% passed) and in ~14h.
    await open_ticket(api_url, soon, "confluence-health-check", "sev1", timedelta(hours=23))
    await open_ticket(api_url, later, "confluence-health-check", "sev1", timedelta(hours=10))
    # Kubeark Urgent: 1 business hour on Romanian hours, opened now: 1h of business time left.
    await open_ticket(api_url, urgent, "kubeark", "urgent", timedelta(0))
    # Confluence Sev3 is rank 3: not in rank=1.
    await open_ticket(api_url, low, "confluence-health-check", "sev3", timedelta(0))

    items = await due_list(api_url, {soon, later, urgent}, rank="1")
    keys = [i["key"] for i in items]
    assert low not in keys
    assert all(i["rank"] == 1 for i in items), items
    deadlines = [datetime.fromisoformat(i["next_deadline"]) for i in items]
    assert deadlines == sorted(deadlines), "not soonest first"
    mine = [k for k in keys if k in (soon, later)]
    assert mine == [soon, later]

    by_key = {i["key"]: i for i in items}
    first = by_key[soon]["due"]
    assert first["clock"] == "first_response" and first["business"] is False
    assert first["business_seconds_left"] is None
    assert 3000 < first["wall_seconds_left"] <= 3600
    assert first["timezone"] and first["due_text"]
    assert by_key[soon]["severity_label"] == "Sev1"

    kube = by_key[urgent]["due"]
    assert kube["business"] is True and kube["clock"] == "first_response"
    # Opened now with a 1 business hour target: exactly that much business time is left...
    assert 3500 < kube["business_seconds_left"] <= 3600
    # ...and at least as much wall time (more when Romania's hours are closed).
    assert kube["wall_seconds_left"] >= kube["business_seconds_left"] - 1
    assert by_key[urgent]["severity_label"] == "Urgent"

    # rank=3 holds the Sev3 and none of the rank-1 tickets
    items3 = await due_list(api_url, {low}, rank="3", policy="confluence-health-check")
    assert {soon, later, urgent}.isdisjoint(i["key"] for i in items3)
    assert all(i["rank"] == 3 for i in items3)

    # due_before: the 14h one is outside a 4h window
    within = await due_list(
        api_url, {soon}, due_before=(datetime.now(UTC) + timedelta(hours=4)).isoformat()
    )
    assert later not in {i["key"] for i in within}


async def test_sort_refuses_a_cursor_and_rank_is_bounded(api_url: str) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30, headers=HEADERS) as http:
        reply = await http.get("/v1/tickets", params={"sort": "next_deadline", "cursor": "abc"})
        assert reply.status_code == 422 and reply.json()["error"]["field"] == "cursor"
        reply = await http.get("/v1/tickets", params={"rank": "5"})
        assert reply.status_code == 422
        # Kubeark has no rank 4: nothing, without asking Temporal a query that matches nothing
        reply = await http.get("/v1/tickets", params={"rank": "4", "policy": "kubeark"})
        assert reply.status_code == 200 and reply.json()["items"] == []


async def test_tickets_due_in_the_terminal(
    api_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETCLOCK_API_URL", api_url)
    monkeypatch.setenv("TICKETCLOCK_TOKEN", ALL)
    soon, later = unique("TD-SOON"), unique("TD-LATER")
    await open_ticket(api_url, soon, "confluence-health-check", "sev1", timedelta(hours=22))
    await open_ticket(api_url, later, "confluence-health-check", "sev1", timedelta(hours=1))
    await due_list(api_url, {soon, later})

    code = await asyncio.to_thread(main, ["tickets", "due", "--within", "4h", "--rank", "1"])
    out, err = capsys.readouterr()
    assert code == 0, err
    header, *rows = out.splitlines()
    for column in ("CLOCK", "DUE (LOCAL)", "DUE (UTC)", "LEFT (BUSINESS)", "LEFT (WALL)", "STATE"):
        assert column in header
    [row] = [r for r in rows if r.startswith(soon)]
    assert "Sev1 (rank 1)" in row and "first_response" in row and "UTC" in row
    assert "24x7" in row  # a 24x7 clock has no business time left to show
    assert " 1h " in row or " 2h " in row  # '1h 59m'-style wall time left
    assert not any(r.startswith(later) for r in rows)  # due in ~23h: outside --within 4h

    code = await asyncio.to_thread(main, ["tickets", "due", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    items = json.loads(out)
    keys = [i["key"] for i in items]
    assert keys.index(soon) < keys.index(later)
    assert items[keys.index(soon)]["due"]["clock"] == "first_response"


async def test_a_closed_pipe_ends_quietly(api_url: str) -> None:
    key = unique("PIPE")
    await open_ticket(api_url, key, "confluence-health-check", "sev1", timedelta(hours=1))
    env = {**os.environ, "TICKETCLOCK_API_URL": api_url, "TICKETCLOCK_TOKEN": ALL}
    code = "from ticketclock.cli import main; import sys; sys.exit(main(sys.argv[1:]))"

    def run() -> tuple[int, str]:
        # The reader closes its end before the CLI writes: every write meets a closed pipe.
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "tickets", "show", key],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        err = proc.stderr.read().decode()
        return proc.wait(timeout=60), err

    status, err = await asyncio.to_thread(run)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert status == 0, err
