"""Migration (issue 17) end to end on the real dev server, worker, API and a real webhook receiver.

`migrate-test` (tests/fixtures/migrate_policies) has v1 in effect and v2 side by side (effective
2099, so new tickets keep getting v1). Three running v1 tickets; `ticketclock policy migrate
--dry-run` shows each running clock's deadline before and after and changes nothing; applying
moves them (the workflow Update `migrate`): met history kept, old and new deadlines in the
ledger, a first response now past its v2 deadline breaches at once and is notified; a second run
migrates nothing (resumable); the history with the migrate Update replays.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from api.app import create_app
from harness.receivers import WebhookReceiver
from plumbing.settings import ApiToken, Settings
from tests.support import unique
from tests.support.api import Served
from ticketclock.cli import main
from ticketclock.worker import build_worker, workflow_runner
from workflows.contract import ticket_workflow_id
from workflows.ticket import TicketWorkflow

POLICIES = Path(__file__).parent / "fixtures" / "migrate_policies"
POLICY = "migrate-test"
OPS = "migrate-ops-token-0123456789"
READER = "migrate-read-token-0123456789"


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment,
) -> AsyncIterator[tuple[httpx.AsyncClient, Client, str, WebhookReceiver]]:
    async with WebhookReceiver() as receiver:
        settings = Settings(
            task_queue=unique("migrate"),
            policy_dirs=(str(POLICIES),),
            webhook_url=receiver.url,
            api_tokens=(
                ApiToken("ops", OPS, frozenset({"tickets:create", "tickets:act", "tickets:read"})),
                ApiToken("reader", READER, frozenset({"tickets:read"})),
            ),
        )
        client = dev_env.client

        async def client_factory() -> Client:
            return client

        async with (
            build_worker(client, settings),
            Served(create_app(settings, client_factory)) as api,
            httpx.AsyncClient(
                base_url=api.url, timeout=60, headers={"Authorization": f"Bearer {OPS}"}
            ) as http,
        ):
            yield http, client, api.url, receiver


async def _open(http: httpx.AsyncClient, severity: str, opened: datetime) -> str:
    key = unique("MIG")
    body = {
        "key": key,
        "policy": POLICY,
        "tier": "gold",
        "severity": severity,
        "opened_at": opened.isoformat(),
    }
    resp = await http.post("/v1/tickets", json=body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["policy_version"] == "v1"
    return key


async def _until(what: str, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"never: {what}")
        await asyncio.sleep(0.2)


def _clock(view: dict[str, Any], clock: str, cycle: int = 1) -> dict[str, Any]:
    return next(c for c in view["clocks"] if c["clock"] == clock and c["cycle"] == cycle)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_migration_dry_run_apply_ledger_notification_resume_and_replay(
    stack: tuple[httpx.AsyncClient, Client, str, WebhookReceiver],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http, client, url, receiver = stack
    now = datetime.now(UTC).replace(microsecond=0)
    late = await _open(http, "sev2", now - timedelta(minutes=30))  # v1 60m: due in 30m
    answered = await _open(http, "sev2", now - timedelta(minutes=1))
    resp = await http.post(f"/v1/tickets/{answered}/acknowledge", json={"actor": "agent:a"})
    assert resp.status_code == 200, resp.text
    acked_at = _at(_clock(resp.json(), "next_update")["started_at"])
    fresh = await _open(http, "sev1", now)  # v1 20m
    keys = [late, answered, fresh]
    query = "WorkflowId IN (" + ", ".join(f"'{ticket_workflow_id(k)}'" for k in keys) + ")"
    monkeypatch.setenv("TICKETCLOCK_API_URL", url)
    monkeypatch.setenv("TICKETCLOCK_TOKEN", OPS)
    args = ["policy", "migrate", POLICY, "--to-version", "v2", "--query", query]
    args += ["--mode", "from_original_start"]

    async def listed() -> bool:
        resp = await http.post(
            f"/v1/policies/{POLICY}/migration-plan",
            json={"to_version": "v2", "mode": "from_original_start", "query": query},
        )
        return resp.status_code == 200 and len(resp.json()["tickets"]) == 3

    await _until("visibility lists the three tickets", listed)

    # Dry run: before and after per running clock; nothing changes.
    capsys.readouterr()
    assert await asyncio.to_thread(main, [*args, "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    rows = {t["key"]: t for t in plan["tickets"]}
    assert set(rows) == set(keys)
    fr = next(c for c in rows[late]["clocks"] if c["clock"] == "first_response")
    assert _at(fr["before"]) == now + timedelta(minutes=30)
    assert _at(fr["after"]) == now - timedelta(minutes=15)
    assert fr["breaches_now"] is True
    nu = next(c for c in rows[answered]["clocks"] if c["clock"] == "next_update")
    assert _at(nu["after"]) == acked_at + timedelta(minutes=30)
    assert [c["clock"] for c in rows[answered]["clocks"]] == ["next_update"]  # met: not listed
    fr = next(c for c in rows[fresh]["clocks"] if c["clock"] == "first_response")
    assert _at(fr["after"]) == now + timedelta(minutes=5) and not fr["breaches_now"]
    for key in keys:
        assert (await http.get(f"/v1/tickets/{key}")).json()["policy_version"] == "v1"
    assert await asyncio.to_thread(main, [*args, "--dry-run"]) == 0
    assert "BREACHES AT ONCE" in capsys.readouterr().out

    # Apply: progress on stderr; every ticket on v2.
    assert await asyncio.to_thread(main, [*args, "--rate", "20", "--reason", "contract 2027"]) == 0
    err = capsys.readouterr().err
    assert "[3/3]" in err and "3 of 3 ticket(s) on v2" in err
    views = {k: (await http.get(f"/v1/tickets/{k}")).json() for k in keys}
    assert {v["policy_version"] for v in views.values()} == {"v2"}

    # The late ticket: breached at once under v2, notified, old and new deadlines in the ledger.
    async def breached() -> dict[str, Any] | None:
        view = (await http.get(f"/v1/tickets/{late}")).json()
        return view if _clock(view, "first_response")["status"] == "breached" else None

    view = await _until("the late ticket's first response breaches", breached)
    assert _at(_clock(view, "first_response")["breached_at"]) == now - timedelta(minutes=15)
    wanted = f"{ticket_workflow_id(late)}:first_response:1:breach"
    await _until("the breach notification", lambda: _async(wanted in _keys(receiver)))
    ledger = view["events"]
    migrate_row = next(e for e in ledger if e["action"] == "migrate")
    assert migrate_row["actor"] == "ops:cli" and "contract 2027" in migrate_row["detail"]
    before = next(e for e in ledger if e["action"] == "migrate_from")
    assert "v1 -> v2 (from_original_start)" in before["detail"]
    assert (now + timedelta(minutes=30)).isoformat() in before["detail"]
    moved = next(e for e in ledger if e["action"] == "migrated")
    assert moved["detail"] == (
        f"first_response #1: {(now + timedelta(minutes=30)).isoformat()} -> "
        f"{(now - timedelta(minutes=15)).isoformat()}"
    )
    # The answered ticket: its met first response is history, untouched; the cadence moved.
    view = views[answered]
    assert _clock(view, "first_response")["status"] == "met"
    assert _at(_clock(view, "next_update")["due_at"]) == acked_at + timedelta(minutes=30)
    assert _at(_clock(views[fresh], "first_response")["due_at"]) == now + timedelta(minutes=5)

    # Resumable: a second run finds nothing left to migrate.
    assert await asyncio.to_thread(main, [*args, "--rate", "20"]) == 0
    assert "0 of 0 ticket(s) on v2" in capsys.readouterr().err

    # The route itself: refusals and scopes.
    body = {"to_version": "v9", "actor": "ops:x", "reason": "r", "mode": "from_now"}
    resp = await http.post(f"/v1/tickets/{fresh}/migrate", json=body)
    assert resp.status_code == 422 and resp.json()["error"]["field"] == "to_version"
    body["to_version"] = "v1"
    resp = await http.post(
        f"/v1/tickets/{fresh}/migrate", json=body, headers={"Authorization": f"Bearer {READER}"}
    )
    assert resp.status_code == 403
    resp = await http.post(f"/v1/tickets/{fresh}/migrate", json={**body, "mode": "someday"})
    assert resp.status_code == 422
    # Back to v1 from now: allowed (a migration is any version to any other).
    resp = await http.post(f"/v1/tickets/{fresh}/migrate", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["policy_version"] == "v1"

    # The recorded history, migrate Updates included, replays with today's code.
    history = await client.get_workflow_handle(ticket_workflow_id(late)).fetch_history()
    replayer = Replayer(
        workflows=[TicketWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=workflow_runner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure


async def _async(value: bool) -> bool:
    return value


def _keys(receiver: WebhookReceiver) -> set[str]:
    return {r.headers.get("idempotency-key", "") for r in receiver.requests} | {
        str(r.json().get("idempotency_key")) for r in receiver.requests if r.body
    }
