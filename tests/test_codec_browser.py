"""The Temporal Web UI shows an encrypted ticket decoded, through the API's codec server.

A dev server started as `make run` starts it with keys set (`--ui-codec-endpoint` at the API's
`/codec`), the API and a worker with the key; one ticket opened and acknowledged over HTTP. In
headless Chromium the UI (calling /codec from its own origin, CORS, no token: loopback) shows the
static summary with the subject, the current-details table, the input and the Updates' results,
while Temporal itself only holds ciphertext (checked through the API-less client).
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
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
from plumbing.temporal_client import data_converter
from tests.support.api import ALL, Served, api_settings
from tests.support.browser import DevTools, Page, chromium, table_text, visit
from ticketclock.worker import build_worker
from workflows.contract import SEARCH_ATTRIBUTES, ticket_workflow_id

pytestmark = pytest.mark.browser

KEY = "ENC-48213"
SUBJECT = "Payroll export shows salaries of Philippa Throckmorton"
CUSTOMER = "Throckmorton Widgets Ltd"
MESSAGE = "Export disabled while we look"
# The ticket's input as the UI's Input card shows it (its first lines: the card scrolls).
DECODED_INPUT = f'"key": "{KEY}",\n  "sla": {{\n    "policy_id": "confluence-health-check"'
DECODED_RESULT = f'{{"key":"{KEY}","workflow_id":"ticket-{KEY}"'


async def test_the_ui_shows_an_encrypted_ticket_decoded(tmp_path: Path) -> None:
    executable = await asyncio.to_thread(chromium)
    ui_port = free_port()
    settings = dataclasses.replace(
        api_settings("codec-ui"), ui_port=ui_port, codec_keys=(("ui-test", bytes(range(32))),)
    )
    client_holder: list[Client] = []

    async def factory() -> Client:
        return client_holder[0]

    served = Served(create_app(settings, factory))
    env = await WorkflowEnvironment.start_local(
        ui=True,
        ui_port=ui_port,
        dev_server_existing_path=temporal_cli(),
        dev_server_extra_args=["--ui-codec-endpoint", f"{served.url}/codec"],
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    try:
        client = Client(
            env.client.service_client,
            namespace=env.client.namespace,
            data_converter=data_converter(settings),
        )
        client_holder.append(client)
        async with (
            build_worker(client, settings),
            served,
            httpx.AsyncClient(
                base_url=served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
            ) as api,
        ):
            body = {
                "key": KEY,
                "policy": "confluence-health-check",
                "tier": "standard",
                "severity": "sev2",
                "customer": {"name": CUSTOMER},
                "subject": SUBJECT,
                "opened_at": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
            }
            created = await api.post("/v1/tickets", json=body)
            assert created.status_code == 201, created.text
            eta = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            acked = await api.post(
                f"/v1/tickets/{KEY}/acknowledge",
                json={"actor": "agent:jane", "message": MESSAGE, "next_update_eta": eta},
            )
            assert acked.status_code == 200, acked.text
            wid = ticket_workflow_id(KEY)
            # Temporal holds ciphertext: a client without the codec cannot read the summary.
            raw = await env.client.get_workflow_handle(wid).describe()
            summary = raw.raw_description.execution_config.user_metadata.summary
            assert summary.metadata["encoding"] == b"binary/encrypted"
            assert SUBJECT.encode() not in summary.data
            run_url = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{wid}/{raw.run_id}"

            def browse() -> dict[str, Page]:
                browser = DevTools(executable, tempfile.mkdtemp(dir=tmp_path))
                try:
                    browser.open_tab()
                    return {
                        "metadata": visit(
                            browser,
                            f"{run_url}/user-metadata",
                            lambda text: SUBJECT in text and "first_response" in text,
                        ),
                        "history": visit(
                            browser,
                            f"{run_url}/history",
                            lambda text: DECODED_RESULT in text,
                        ),
                        "timeline": visit(
                            browser, f"{run_url}/timeline", lambda text: DECODED_INPUT in text
                        ),
                    }
                finally:
                    browser.close()

            pages = await asyncio.to_thread(browse)
    finally:
        await env.shutdown()

    metadata = table_text(pages["metadata"].text)
    assert SUBJECT in metadata, metadata[-3000:]
    assert "Current Details" in metadata and "first_response\t1\tmet" in metadata, metadata
    history = pages["history"].text
    assert DECODED_RESULT in history, history[-3000:]  # the Updates' results, as JSON
    timeline = pages["timeline"].text
    assert "Input" in timeline and DECODED_INPUT in timeline, timeline[-3000:]
