"""An encrypted recorded history replays with the codec (and only with it).

`tests/histories-encrypted/ticket-HIST-encrypted-rotation.json` is a real ticket opened over HTTP
under key `test-2026-01`, acknowledged, then (API and worker restarted with
`test-2026-11,test-2026-01`) given an agent update: its payloads are sealed with both keys. It sits
beside `tests/histories/`, not in it: the replay drill replays that folder with whatever keys it
is given, and this one needs the test keys (`TICKETCLOCK_CODEC_KEYS` below).
The keys below are test keys, published here on purpose; never use them for real tickets.

Re-record (after a workflow change that breaks replay, as drills/record_histories.py does for the
plaintext ones): `RECORD_ENCRYPTED_HISTORY=1 pytest tests/test_codec_replay.py`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from api.app import create_app
from drills import replay
from plumbing.codec import KEY_ID_METADATA, is_encrypted
from plumbing.settings import Settings, load_settings
from plumbing.temporal_client import data_converter
from tests.support import unique
from tests.support.api import ALL, Served, api_settings
from ticketclock.worker import build_worker, workflow_runner
from workflows.contract import ticket_workflow_id
from workflows.ticket import TicketWorkflow

ROOT = Path(__file__).resolve().parents[1]
HISTORY = ROOT / "tests" / "histories-encrypted" / "ticket-HIST-encrypted-rotation.json"
KEY = "HIST-encrypted-rotation"
SUBJECT = "Encrypted history: the export of Ophelia Dunstable's payroll"
# TICKETCLOCK_CODEC_KEYS after the rotation (test keys only).
TEST_CODEC_KEYS = (
    "test-2026-11:" + base64.b64encode(bytes(range(64, 96))).decode() + ","
    "test-2026-01:" + base64.b64encode(bytes(range(32))).decode()
)
AFTER = load_settings({"TICKETCLOCK_CODEC_KEYS": TEST_CODEC_KEYS}).codec_keys
BEFORE = AFTER[1:]


def _history() -> WorkflowHistory:
    return WorkflowHistory.from_json(ticket_workflow_id(KEY), HISTORY.read_text())


def _replayer(converter: object) -> Replayer:
    return Replayer(
        workflows=[TicketWorkflow],
        data_converter=converter,  # type: ignore[arg-type]
        workflow_runner=workflow_runner(),
    )


def test_the_recorded_history_is_encrypted_with_both_keys() -> None:
    text = HISTORY.read_text()
    assert SUBJECT not in text and "Ophelia" not in text
    payloads = [
        payload
        for event in _history().events
        for field in ("workflow_execution_started_event_attributes",)
        if event.HasField(field)
        for payload in getattr(event, field).input.payloads
    ]
    assert payloads and all(is_encrypted(p) for p in payloads)
    assert f'"{KEY_ID_METADATA}"' in text
    for key_id in (b"test-2026-01", b"test-2026-11"):
        assert base64.b64encode(key_id).decode() in text


async def test_the_encrypted_history_replays_with_the_codec() -> None:
    replayed = await _replayer(data_converter(Settings(codec_keys=AFTER))).replay_workflow(
        _history(), raise_on_replay_failure=False
    )
    assert replayed.replay_failure is None


@pytest.mark.parametrize(
    "converter",
    [
        pytest.param(pydantic_data_converter, id="no codec"),
        pytest.param(data_converter(Settings(codec_keys=BEFORE)), id="the old key only"),
    ],
)
async def test_without_the_keys_it_does_not_replay(converter: object) -> None:
    replayed = await _replayer(converter).replay_workflow(_history(), raise_on_replay_failure=False)
    assert replayed.replay_failure is not None


def test_the_replay_drill_replays_both_kinds_with_keys_and_refuses_without(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`TICKETCLOCK_CODEC_KEYS=... python -m drills.replay tests/histories-encrypted`: the
    plaintext recordings and the encrypted one; without the keys the encrypted one fails."""
    monkeypatch.setenv("TICKETCLOCK_CODEC_KEYS", TEST_CODEC_KEYS)
    assert replay.main([str(HISTORY.parent)]) == 0
    out = capsys.readouterr().out
    assert f"{HISTORY.name} (" in out and "histories-encrypted" in out
    assert "ticket-HIST-incident.json" in out
    monkeypatch.delenv("TICKETCLOCK_CODEC_KEYS")
    assert replay.main([str(HISTORY)]) != 0
    assert "1 other failures" in capsys.readouterr().out


# -- recording ---------------------------------------------------------------------------------
@asynccontextmanager
async def _stack(
    env: WorkflowEnvironment, task_queue: str, keys: tuple[tuple[str, bytes], ...]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = dataclasses.replace(api_settings(task_queue), codec_keys=keys)
    client = Client(
        env.client.service_client,
        namespace=env.client.namespace,
        data_converter=data_converter(settings),
    )

    async def factory() -> Client:
        return client

    async with (
        build_worker(client, settings),
        Served(create_app(settings, factory)) as served,
        httpx.AsyncClient(
            base_url=served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
        ) as http,
    ):
        yield http


@pytest.mark.skipif(
    os.environ.get("RECORD_ENCRYPTED_HISTORY") != "1", reason="RECORD_ENCRYPTED_HISTORY=1 records"
)
async def test_record_the_encrypted_history(dev_env: WorkflowEnvironment) -> None:
    task_queue = unique("codec-record")
    eta = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    with contextlib.suppress(RPCError):  # an earlier recording in this session
        await dev_env.client.get_workflow_handle(ticket_workflow_id(KEY)).terminate("again")
    async with _stack(dev_env, task_queue, BEFORE) as http:
        body = {
            "key": KEY,
            "policy": "confluence-health-check",
            "tier": "standard",
            "severity": "sev2",
            "subject": SUBJECT,
            "customer": {"name": "Dunstable & Daughters"},
        }
        assert (await http.post("/v1/tickets", json=body)).status_code == 201
        acked = await http.post(
            f"/v1/tickets/{KEY}/acknowledge",
            json={"actor": "agent:jane", "message": "Looking at it", "next_update_eta": eta},
        )
        assert acked.status_code == 200, acked.text
    async with _stack(dev_env, task_queue, AFTER) as http:
        updated = await http.post(
            f"/v1/tickets/{KEY}/updates",
            json={"actor": "agent:jane", "message": "Fixed for Ophelia", "next_update_eta": eta},
        )
        assert updated.status_code == 200, updated.text
    handle = dev_env.client.get_workflow_handle(ticket_workflow_id(KEY))
    history = await handle.fetch_history()
    await handle.terminate("recorded")
    HISTORY.parent.mkdir(parents=True, exist_ok=True)
    HISTORY.write_text(history.to_json())
