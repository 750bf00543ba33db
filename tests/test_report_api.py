"""The SLA report end to end: tickets with second-scale targets (tests/fixtures/report_policies)
opened and acted on over real HTTP, on the real dev server and worker; then the report, as JSON,
as HTML and through `ticketclock report`, counts them. One ticket breaches, two are met, and one
of those is closed so its workflow completes (its ledger is read from the workflow's result)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from plumbing.processes import free_port
from plumbing.settings import ApiToken, Settings
from tests.support import unique
from tests.support.api import Served
from ticketclock.cli import main
from ticketclock.worker import build_worker
from workflows.contract import ticket_workflow_id

POLICIES = Path(__file__).parent / "fixtures" / "report_policies"
POLICY = "report-test"  # gold tier; sev1 first response 2s, sev2 1h; reopen window 1s
READER = "report-read-token-0123456789"
WRITER = "report-write-token-0123456789"
PATIENCE_S = 12.0


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment) -> AsyncIterator[tuple[httpx.AsyncClient, Client]]:
    settings = Settings(
        task_queue=unique("report"),
        policy_dirs=(str(POLICIES),),
        api_tokens=(
            ApiToken("writer", WRITER, frozenset({"tickets:create", "tickets:act"})),
            ApiToken("reader", READER, frozenset({"tickets:read"})),
        ),
    )
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    async with (
        build_worker(client, settings),
        Served(create_app(settings, client_factory)) as api,
        httpx.AsyncClient(base_url=api.url, timeout=30) as http,
    ):
        yield http, client


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _open(http: httpx.AsyncClient, severity: str) -> str:
    key = unique("RPT")
    body = {"key": key, "policy": POLICY, "tier": "gold", "severity": severity}
    resp = await http.post("/v1/tickets", json=body, headers=_as(WRITER))
    assert resp.status_code == 201, resp.text
    return key


async def _act(http: httpx.AsyncClient, key: str, action: str) -> None:
    resp = await http.post(
        f"/v1/tickets/{key}/{action}", json={"actor": "agent:jane"}, headers=_as(WRITER)
    )
    assert resp.status_code == 200, resp.text


async def _until(what: str, check: Any) -> Any:
    deadline = time.monotonic() + PATIENCE_S
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_report_counts_met_and_breached_tickets(
    stack: tuple[httpx.AsyncClient, Client],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    http, client = stack
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    breached = await _open(http, "sev1")  # nobody answers within 2 s
    met = await _open(http, "sev1")
    closed = await _open(http, "sev2")
    await _act(http, met, "acknowledge")
    await _act(http, closed, "acknowledge")
    await _act(http, closed, "close")

    async def measured() -> bool:
        view = (await http.get(f"/v1/tickets/{breached}", headers=_as(READER))).json()
        return any(c["status"] == "breached" and c["business_used"] for c in view["clocks"])

    async def completed() -> bool:
        handle = client.get_workflow_handle(ticket_workflow_id(closed))
        return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED

    params = {"from": since, "policy": POLICY, "group_by": "severity"}

    async def listed() -> dict[str, Any] | None:
        resp = await http.get("/v1/reports/sla", params=params, headers=_as(READER))
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body if body["totals"]["tickets"] == 3 and body["totals"]["breached"] else None

    await _until("the breach to be measured", measured)
    await _until("the closed ticket's workflow to complete", completed)
    report = await _until("visibility to list all three tickets", listed)

    assert report["skipped"] == []
    assert report["query"]["policy"] == POLICY
    assert POLICY in report["query"]["visibility_query"]
    totals = report["totals"]
    assert (totals["tickets"], totals["met"], totals["breached"]) == (3, 2, 1)
    assert totals["breach_rate"] == pytest.approx(1 / 3)
    groups = {g["key"].split("/")[1]: g for g in report["groups"]}
    assert set(groups) == {"sev1", "sev2"}
    # What was our Sev1 first-response rate? One met, one breached.
    sev1 = groups["sev1"]["by_clock"]["first_response"]
    assert (sev1["met"], sev1["breached"], sev1["breach_rate"]) == (1, 1, 0.5)
    # the catalogue's label and rank (the fixture's file sets no rank: its position)
    assert groups["sev1"]["label"] == f"Rank 1 · {POLICY} · Sev1"
    assert (groups["sev1"]["rank"], groups["sev2"]["rank"]) == (1, 2)
    assert (groups["sev2"]["tickets"], groups["sev2"]["met"]) == (1, 1)  # the completed one
    # first response: the breach counted until its 2 s deadline, the others answered sooner
    median = totals["first_response_business_minutes_median"]
    p90 = totals["first_response_business_minutes_p90"]
    assert 0 < median <= p90 < 0.1
    assert sum(b["count"] for b in report["first_response_distribution"]) == 3

    by_clock = await http.get(
        "/v1/reports/sla", params={**params, "group_by": "clock"}, headers=_as(READER)
    )
    assert [g["key"] for g in by_clock.json()["groups"]] == ["first_response"]

    page = await http.get("/v1/reports/sla.html", params=params, headers=_as(READER))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<svg" in page.text and "Breach rate per row of the table" in page.text

    # The CLI, through the same API (in a thread: the API serves on this event loop).
    api_url = str(http.base_url)
    monkeypatch.setenv("TICKETCLOCK_API_URL", api_url)
    monkeypatch.setenv("TICKETCLOCK_TOKEN", READER)
    monkeypatch.delenv("TICKETCLOCK_DEV_TOKEN", raising=False)
    out = tmp_path / "sla.html"
    args = ["report", "--from", since, "--policy", POLICY, "--format", "html", "--output", str(out)]
    assert await asyncio.to_thread(main, args) == 0
    assert "<svg" in out.read_text()
    text = tmp_path / "sla.txt"
    args = ["report", "--from", since, "--policy", POLICY, "--output", str(text)]
    assert await asyncio.to_thread(main, args) == 0
    [row] = [
        line
        for line in text.read_text().splitlines()
        if line.startswith(f"Rank 1 · {POLICY} · Sev1 ")
    ]
    assert row.split()[6:11] == ["2", "2", "1", "1", "0"]  # tickets clocks met breached open

    # ... and its errors, each naming what to fix
    capsys.readouterr()
    monkeypatch.setenv("TICKETCLOCK_TOKEN", WRITER)  # no tickets:read
    assert await asyncio.to_thread(main, ["report"]) == 1
    assert "lacks the tickets:read scope" in capsys.readouterr().err
    monkeypatch.setenv("TICKETCLOCK_TOKEN", "not-a-token-0123456789")
    assert await asyncio.to_thread(main, ["report"]) == 1
    assert "refused the token" in capsys.readouterr().err
    monkeypatch.setenv("TICKETCLOCK_TOKEN", READER)
    assert await asyncio.to_thread(main, ["report", "--policy", "nope"]) == 1
    assert "refused the query: policy" in capsys.readouterr().err


def test_cli_report_errors_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TICKETCLOCK_API_URL", "TICKETCLOCK_TOKEN", "TICKETCLOCK_DEV_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["report"]) == 2
    assert "TICKETCLOCK_API_URL is not set" in capsys.readouterr().err
    monkeypatch.setenv("TICKETCLOCK_API_URL", f"http://127.0.0.1:{free_port()}")
    assert main(["report"]) == 2
    assert "TICKETCLOCK_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("TICKETCLOCK_TOKEN", "some-token-0123456789")
    assert main(["report"]) == 1
    assert "cannot reach the API" in capsys.readouterr().err
    monkeypatch.setenv("TICKETCLOCK_API_URL", "ftp://example.invalid")
    assert main(["report"]) == 1
    assert "TICKETCLOCK_API_URL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "--from", "last tuesday"])
    assert "not an ISO 8601 date" in capsys.readouterr().err
