"""The Temporal Web UI as an operator sees a ticket, checked in a real (headless) Chromium.

A dev server with its UI, the worker and the API; one ticket opened and acted on through the API.
Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`): no extra
package, no downloaded browser. The pages must show the ticket's summary and details, the
current-details clock table and the first_response timer's summary.

The screenshot of the User Metadata page lands in the test's tmp dir; with
UPDATE_SCREENSHOTS=1 it also replaces docs/ui-ticket.png (shown in the README).
"""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from plumbing.binaries import temporal_cli
from plumbing.processes import free_port
from tests.support.api import ALL, Served, api_settings
from tests.support.browser import DevTools, Page, chromium, visit
from ticketclock.worker import build_worker
from workflows.contract import SEARCH_ATTRIBUTES, ticket_workflow_id

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
DOC_SCREENSHOT = ROOT / "docs" / "ui-ticket.png"
KEY = "ZD-48213"  # this test's own server: a readable key for the screenshot


# -- the stack -------------------------------------------------------------------------------------
@dataclass
class Ui:
    base: str
    client: Client
    api: httpx.AsyncClient


@pytest.fixture
async def ui() -> AsyncIterator[Ui]:
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        ui=True,
        ui_port=ui_port,
        dev_server_existing_path=temporal_cli(),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    settings = api_settings("ui-browser")

    async def client_factory() -> Client:
        return env.client

    try:
        async with (
            build_worker(env.client, settings),
            Served(create_app(settings, client_factory)) as served,
            httpx.AsyncClient(
                base_url=served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
            ) as api,
        ):
            yield Ui(f"http://127.0.0.1:{ui_port}", env.client, api)
    finally:
        await env.shutdown()


async def test_a_ticket_in_the_web_ui(ui: Ui, tmp_path: Path) -> None:
    executable = await asyncio.to_thread(chromium)

    # A Sev1 ticket, answered and handed to engineering: three clocks to show.
    body = {
        "key": KEY,
        "policy": "confluence-health-check",
        "tier": "standard",
        "severity": "sev1",
        "customer": {"name": "Acme Corp"},
        "channel": "portal",
        "subject": "Confluence is down for the EU team",
        "opened_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
    }
    created = await ui.api.post("/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    eta = (datetime.now(UTC) + timedelta(minutes=45)).isoformat()
    acted = await ui.api.post(
        f"/v1/tickets/{KEY}/acknowledge",
        json={"actor": "agent:jane", "message": "On it", "next_update_eta": eta},
    )
    assert acted.status_code == 200, acted.text
    acted = await ui.api.post(f"/v1/tickets/{KEY}/engineering-ack", json={"actor": "eng:oncall"})
    assert acted.status_code == 200, acted.text
    view = acted.json()
    first = next(c for c in view["clocks"] if c["clock"] == "first_response")
    incident = next(c for c in view["clocks"] if c["clock"] == "incident_commander")
    warning = first["warnings"][0]
    timer_summary = f"first_response warning ({warning['label']}) at {warning['text']} — Sev1, 24h"
    summary = "confluence-health-check standard Sev1: Confluence is down for the EU team"

    wid = ticket_workflow_id(KEY)
    run_id = (await ui.client.get_workflow_handle(wid).describe()).run_id
    run_url = f"{ui.base}/namespaces/default/workflows/{wid}/{run_id}"
    shot = tmp_path / "ui-ticket.png"

    def browse() -> dict[str, Page]:
        profile = tempfile.mkdtemp(dir=tmp_path)
        browser = DevTools(executable, profile)
        try:
            browser.open_tab()
            pages = {
                # The ticket's own address opens its latest run on the Timeline tab.
                "timeline": visit(
                    browser,
                    f"{ui.base}/namespaces/default/workflows/{wid}",
                    lambda text: timer_summary in text,
                ),
                "history": visit(
                    browser,
                    f"{run_url}/history",
                    lambda text: "Timer Started" in text and timer_summary in text,
                ),
                "metadata": visit(
                    browser,
                    f"{run_url}/user-metadata",
                    lambda text: summary in text and incident["due_text"] in text,
                ),
            }
            png = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
            shot.write_bytes(base64.b64decode(png))
            return pages
        finally:
            browser.close()

    pages = await asyncio.to_thread(browse)

    timeline = pages["timeline"]
    assert timeline.url.startswith(f"{run_url}/timeline"), timeline.url
    assert timer_summary in timeline.text, timeline.text[-2000:]
    assert "compute_deadline" in timeline.text

    history = pages["history"]
    assert "Timer Started" in history.text
    assert timer_summary in history.text, history.text[-2000:]

    metadata = pages["metadata"].text
    for wanted in (
        summary,  # the static summary the API sets
        f"Ticket {KEY}",  # the static details (markdown, rendered)
        "Current Details",
        "clock\t#\tstatus\tdue\ttarget",  # the current-details table's header...
        f"first_response\t1\tmet\t{first['due_text']}\t24h",  # ...and its rows
        f"incident_commander\t1\trunning\t{incident['due_text']}\t15m",
        "next_update\t1\trunning",
    ):
        assert wanted in metadata, f"{wanted!r} not on the User Metadata page:\n{metadata}"

    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOC_SCREENSHOT.write_bytes(png)
