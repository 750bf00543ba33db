"""The API end to end: real HTTP (uvicorn on a free port), the real dev server, the real worker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.temporal_gateway import TemporalGateway, TemporalUnavailable, TicketExists
from api.visibility import literal
from plumbing.processes import free_port
from tests.support import unique
from tests.support.api import ALL, READER, Served, api_settings
from tests.support.slas import quick_sla
from ticketclock.worker import build_worker
from workflows.contract import ticket_workflow_id
from workflows.messages import TicketInput

VISIBILITY_PATIENCE_S = 20.0


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment) -> AsyncIterator[tuple[httpx.AsyncClient, Client]]:
    """API + worker on a fresh task queue; yields an HTTP client (all scopes) and the Temporal
    client the API uses."""
    settings = api_settings(unique("api-e2e"))
    client = dev_env.client
    factory_calls = 0

    async def client_factory() -> Client:
        nonlocal factory_calls
        factory_calls += 1
        return client

    app = create_app(settings, client_factory)
    async with (
        build_worker(client, settings),
        Served(app) as served,
        httpx.AsyncClient(
            base_url=served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
        ) as http,
    ):
        yield http, client
    assert factory_calls == 1, "the Temporal client is created once and reused"


async def _poll_list(http: httpx.AsyncClient, params: dict[str, str], key: str) -> dict[str, Any]:
    """Visibility lags behind the workflow: poll until the ticket shows up (bounded)."""
    deadline = time.monotonic() + VISIBILITY_PATIENCE_S
    while True:
        resp = await http.get("/v1/tickets", params=params)
        assert resp.status_code == 200, resp.text
        rows = [row for row in resp.json()["items"] if row["key"] == key]
        if rows:
            row: dict[str, Any] = rows[0]
            return row
        assert time.monotonic() < deadline, f"{key} never listed for {params}"
        await asyncio.sleep(0.25)


async def test_ticket_lifecycle_over_http(stack: tuple[httpx.AsyncClient, Client]) -> None:
    http, client = stack
    key = unique("E2E")
    body = {
        "key": key,
        "policy": "confluence-health-check",
        "tier": "standard",
        "severity": "sev1",
        "customer": {"name": "Acme Corp"},
        "channel": "email",
        "subject": "Confluence is down",
    }

    # create: every clock already carries its deadline
    created = await http.post("/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    view = created.json()
    assert (view["key"], view["severity"], view["status"]) == (
        key,
        "sev1",
        "awaiting_first_response",
    )
    [first] = [c for c in view["clocks"] if c["clock"] == "first_response"]
    opened = datetime.fromisoformat(view["opened_at"])
    assert datetime.fromisoformat(first["due_at"]) == opened + timedelta(hours=24)  # Sev1: 24h 24x7
    assert view["next_deadline_clock"] == "first_response"

    # what the UI and the duplicate check read back
    description = await client.get_workflow_handle(ticket_workflow_id(key)).describe()
    assert await description.static_summary() == (
        "confluence-health-check standard Sev1: Confluence is down"
    )

    # idempotent create
    again = await http.post("/v1/tickets", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["key"] == key
    conflict = await http.post("/v1/tickets", json={**body, "severity": "sev2"})
    assert conflict.status_code == 409
    assert conflict.json()["error"]["field"] == "key"

    # act: acknowledge with an ETA (Sev1 requires one)
    eta = (datetime.now(UTC) + timedelta(minutes=30)).isoformat()
    ack = await http.post(
        f"/v1/tickets/{key}/acknowledge",
        json={"actor": "agent:jane", "message": "On it", "next_update_eta": eta},
    )
    assert ack.status_code == 200, ack.text
    acked = ack.json()
    assert acked["status"] == "in_progress"
    statuses = {(c["clock"], c["status"]) for c in acked["clocks"]}
    assert ("first_response", "met") in statuses
    assert ("next_update", "running") in statuses

    # refusal: an update without an ETA on Sev1
    refused = await http.post(f"/v1/tickets/{key}/updates", json={"actor": "agent:jane"})
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["type"] == "EtaRequired"
    assert error["field"] == "next_update_eta"

    # read
    got = await http.get(f"/v1/tickets/{key}", headers={"Authorization": f"Bearer {READER}"})
    assert got.status_code == 200
    assert got.json()["status"] == "in_progress"
    explained = await http.get(f"/v1/tickets/{key}/explain/next_update")
    assert explained.status_code == 200, explained.text
    assert explained.json()["clock"] == "next_update"
    assert (await http.get(f"/v1/tickets/{unique('NOPE')}")).status_code == 404

    # list by filters (visibility is eventually consistent)
    params = {
        "policy": "confluence-health-check",
        "severity": "sev1",
        "state": "in_progress",
        "breached": "false",
        "due_after": datetime.now(UTC).isoformat(),
        "limit": "200",
    }
    row = await _poll_list(http, params, key)
    assert row["status"] == "running"
    assert row["state"] == "in_progress"
    assert row["next_deadline"] is not None

    # auth: no token, a wrong token, a token without the scope
    async with httpx.AsyncClient(base_url=str(http.base_url)) as anonymous:
        missing = await anonymous.get(f"/v1/tickets/{key}")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = await anonymous.get(
            f"/v1/tickets/{key}", headers={"Authorization": "Bearer not-the-token-0123456789"}
        )
        assert wrong.status_code == 401
        reader = {"Authorization": f"Bearer {READER}"}
        forbidden = await anonymous.post(
            f"/v1/tickets/{key}/close", json={"actor": "agent:jane"}, headers=reader
        )
        assert forbidden.status_code == 403
        assert (await anonymous.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).json() == {"status": "ready"}


async def test_list_pages_with_a_cursor(stack: tuple[httpx.AsyncClient, Client]) -> None:
    http, _ = stack
    subject = unique("page")
    keys = {unique("PG") for _ in range(3)}
    for key in keys:
        body = {
            "key": key,
            "policy": "confluence-health-check",
            "tier": "standard",
            "severity": "sev4",
            "subject": subject,
        }
        assert (await http.post("/v1/tickets", json=body)).status_code == 201
    for key in keys:
        await _poll_list(http, {"severity": "sev4", "limit": "200"}, key)

    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(100):
        params = {"severity": "sev4", "limit": "2"}
        if cursor:
            params["cursor"] = cursor
        page = (await http.get("/v1/tickets", params=params)).json()
        assert len(page["items"]) <= 2
        seen |= {row["key"] for row in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert keys <= seen


async def test_quoted_literals_are_valid_visibility_queries(dev_env: WorkflowEnvironment) -> None:
    """The escaping in `literal` is accepted by the server and matches nothing unexpected."""
    hostile = literal("x' OR WorkflowType != 'y")
    pages = dev_env.client.list_workflows(f"TicketTier = {hostile}", page_size=10)
    await pages.fetch_next_page()
    assert list(pages.current_page or []) == []


async def test_unreachable_temporal_is_503_then_retried() -> None:
    settings = api_settings("unused", temporal_address=f"127.0.0.1:{free_port()}")
    app = create_app(settings)  # the real connect(): nothing listens on that port
    async with Served(app) as served, httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        auth = {"Authorization": f"Bearer {ALL}"}
        for _ in range(2):  # the failed connection is not cached: each request tries again
            resp = await http.get("/v1/tickets/ZD-1", headers=auth)
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"]["type"] == "TemporalUnavailable"
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200


async def test_create_without_a_worker_is_durable_and_answers_once_one_runs(
    dev_env: WorkflowEnvironment,
) -> None:
    """Update-with-start waits for the worker; with none, the start still holds: the request
    answers 503 (retryable), and the ticket is there with its deadlines once a worker runs."""
    settings = api_settings(unique("api-no-worker"))
    client = dev_env.client

    async def client_factory() -> Client:
        return client

    gateway = TemporalGateway(
        client_factory, task_queue=settings.task_queue, settle_timeout=1.0, query_timeout=1.0
    )
    key = unique("NW")
    opened = datetime.now(UTC)
    ticket = TicketInput(key=key, sla=quick_sla(), opened_at=opened)
    args = {"fingerprint": "f", "summary": "s", "details": "d"}
    with pytest.raises(TemporalUnavailable):
        await gateway.start_ticket(ticket, **args)
    handle = client.get_workflow_handle(ticket_workflow_id(key))
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    try:
        async with build_worker(client, settings):
            with pytest.raises(TicketExists):
                await gateway.start_ticket(ticket, **args)
            deadline = time.monotonic() + 20
            while True:
                view = await gateway.status(key)
                if all(c.due_at for c in view.clocks if c.active):
                    break
                assert time.monotonic() < deadline, view
                await asyncio.sleep(0.1)
            first = next(c for c in view.clocks if c.clock.value == "first_response")
            assert first.due_at == opened + timedelta(seconds=60)
    finally:
        await handle.terminate("test finished")


async def test_an_ended_ticket_keeps_its_key(stack: tuple[httpx.AsyncClient, Client]) -> None:
    """Update-with-start refuses a key whose workflow has ended (REJECT_DUPLICATE): the same body
    is a retry (200, the ticket as it ended), another body a conflict (409), no second run."""
    http, client = stack
    key = unique("ENDED")
    body = {"key": key, "policy": "confluence-health-check", "tier": "standard", "severity": "sev3"}
    assert (await http.post("/v1/tickets", json=body)).status_code == 201
    closed = await http.post(f"/v1/tickets/{key}/close", json={"actor": "agent:jane"})
    assert closed.status_code == 200, closed.text
    handle = client.get_workflow_handle(ticket_workflow_id(key))
    first_run = (await handle.describe()).run_id
    # A closed ticket waits out its 7-day reopen window; an operator ends it now.
    await handle.terminate("test: ended early")

    again = await http.post("/v1/tickets", json=body)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "closed"
    conflict = await http.post("/v1/tickets", json={**body, "severity": "sev2"})
    assert conflict.status_code == 409, conflict.text
    description = await handle.describe()
    assert description.run_id == first_run
    assert description.status == WorkflowExecutionStatus.TERMINATED
