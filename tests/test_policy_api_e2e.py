"""Issue 13 over the real stack: HTTP (uvicorn), the dev server and the worker.

A Kubeark request opens with no response-time clock, citing 2.4; a severity written `-1` is
refused at creation (422) and at change_severity (the workflow's matcher), naming `severity`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.support import unique
from tests.support.api import ALL, Served, api_settings
from ticketclock.worker import build_worker

INTAKE = {
    name: "given"
    for name in (
        "customer_info",
        "description",
        "reproduction_steps",
        "platform_version",
        "priority_reason",
        "first_line_confirmation",
    )
}


@pytest.fixture
async def http(dev_env: WorkflowEnvironment) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings(unique("policy-e2e"))
    client = dev_env.client

    async def client_factory() -> object:
        return client

    app = create_app(settings, client_factory)  # type: ignore[arg-type]
    async with (
        build_worker(client, settings),
        Served(app) as served,
        httpx.AsyncClient(
            base_url=served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
        ) as http,
    ):
        yield http


async def test_kubeark_request_opens_without_a_response_clock(http: httpx.AsyncClient) -> None:
    """002 2.4: requests are "not bound by the response times"; an incident is."""
    base = {"policy": "kubeark", "tier": "standard", "severity": "urgent", "intake": INTAKE}
    request = await http.post("/v1/tickets", json={**base, "key": unique("KR"), "type": "request"})
    assert request.status_code == 201, request.text
    assert [c for c in request.json()["clocks"] if c["due_at"] is not None] == []
    assert request.json()["next_deadline"] is None

    incident = await http.post("/v1/tickets", json={**base, "key": unique("KI")})
    assert incident.status_code == 201, incident.text
    clocks = {c["clock"]: c for c in incident.json()["clocks"]}
    assert clocks["first_response"]["due_at"] is not None


async def test_negative_severity_refused_at_open_and_at_change(http: httpx.AsyncClient) -> None:
    """Defect: `-1` passed for Sev1 (hyphens were dropped)."""
    key = unique("NEG")
    body = {"key": key, "policy": "confluence-health-check", "tier": "standard"}
    refused = await http.post("/v1/tickets", json={**body, "severity": "-1"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["field"] == "severity"
    assert "sev1 (Sev1, 1, Sev-1" in refused.json()["error"]["message"]

    created = await http.post("/v1/tickets", json={**body, "severity": "sev3"})
    assert created.status_code == 201, created.text
    change = {"actor": "agent:jane", "severity": "-1", "reason": "worse"}
    resp = await http.post(f"/v1/tickets/{key}/severity", json=change)
    assert resp.status_code == 409, resp.text
    assert "severity" in resp.json()["error"]["message"]
    raised = await http.post(f"/v1/tickets/{key}/severity", json={**change, "severity": "SEV-2"})
    assert raised.status_code == 200, raised.text
    assert raised.json()["severity"] == "sev2"
