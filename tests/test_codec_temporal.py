"""Encryption end to end, on a real dev server writing a SQLite file (WAL mode), as `make run` does.

One ticket is opened and acted on through the API with key A, then the API and the worker restart
with `B,A` (rotation): the ticket goes on, new payloads are sealed with B, the old ones still
decode, and its whole history replays. The SQLite file, visibility and `temporal workflow show`
without the codec hold no subject, customer name or message text; with `--codec-endpoint` at the
API's /codec, the CLI shows them. A plaintext ticket on the same server is the control: its
subject IS in the file, so the grep can see what it looks for.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from api.app import create_app
from plumbing.binaries import temporal_cli
from plumbing.codec import KEY_ID_METADATA, CodecError, is_encrypted
from plumbing.processes import free_port
from plumbing.settings import Settings
from plumbing.temporal_client import connect, data_converter
from tests.support import unique
from tests.support.api import ALL, Served, api_settings
from ticketclock.worker import build_worker, metrics_runtime, workflow_runner
from workflows.contract import SEARCH_ATTRIBUTES, ticket_workflow_id
from workflows.ticket import BREACH_OVERDUE_PATCH, TicketWorkflow

KEY_A = ("2026-01", bytes(range(32)))
KEY_B = ("2026-11", bytes(range(50, 82)))

SUBJECT = "Payroll export leaks salaries of Zebulon Quartermaine"
CUSTOMER = "Quuxley Fiduciary Holdings"
MESSAGE_1 = "Rotate the leaked password xyzzy-plugh-4417 at once"
MESSAGE_2 = "Vendor confirmed the fix for Zebulon today"
SECRETS = (SUBJECT, CUSTOMER, "Zebulon", "Quuxley", "xyzzy-plugh-4417", MESSAGE_2)
CONTROL_SUBJECT = "Plaintext control subject Wibblewobble"
# The visibility test opens a plaintext ticket too: its own words, kept out of SECRETS' way.
VIS_SUBJECT = "Visibility probe about Flumpington Archibald"
VIS_CUSTOMER = "Grommet Sprocket Visibility GmbH"


@dataclass
class Server:
    env: WorkflowEnvironment
    db: Path
    address: str

    def client(self, keys: tuple[tuple[str, bytes], ...]) -> Client:
        """A client on this server with the codec of `keys` (none: plain JSON)."""
        return Client(
            self.env.client.service_client,
            namespace=self.env.client.namespace,
            data_converter=data_converter(Settings(codec_keys=keys)),
        )

    def stored(self) -> bytes:
        """Everything the server has written: the database and its write-ahead log."""
        return b"".join(
            path.read_bytes()
            for path in sorted(self.db.parent.glob(self.db.name + "*"))
            if path.is_file()
        )


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    db = tmp_path_factory.mktemp("codec-db") / "temporal.sqlite"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli(),
        dev_server_database_filename=str(db),
        dev_server_extra_args=[
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=1",
        ],
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
    )
    try:
        yield Server(env, db, env.client.service_client.config.target_host)
    finally:
        await env.shutdown()


@dataclass
class Stack:
    http: httpx.AsyncClient
    api: str
    client: Client


@pytest.fixture
def task_queue() -> str:
    return unique("codec")


class running:
    """The API (over real HTTP) and a worker, both with `keys`, as `make run` would start them."""

    def __init__(self, server: Server, task_queue: str, *keys: tuple[str, bytes]) -> None:
        self.settings = dataclasses.replace(api_settings(task_queue), codec_keys=keys)
        self.client = server.client(keys)

    async def __aenter__(self) -> Stack:
        async def factory() -> Client:
            return self.client

        self._worker = build_worker(self.client, self.settings)
        await self._worker.__aenter__()
        self._served = Served(create_app(self.settings, factory))
        await self._served.__aenter__()
        self._http = httpx.AsyncClient(
            base_url=self._served.url, headers={"Authorization": f"Bearer {ALL}"}, timeout=30
        )
        return Stack(self._http, self._served.url, self.client)

    async def __aexit__(self, *exc: object) -> None:
        await self._http.aclose()
        await self._served.__aexit__(*exc)
        await self._worker.__aexit__(None, None, None)


def _ticket(key: str, subject: str, customer: str) -> dict[str, object]:
    return {
        "key": key,
        "policy": "confluence-health-check",
        "tier": "standard",
        "severity": "sev2",
        "subject": subject,
        "customer": {"name": customer},
        "opened_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
    }


def _eta() -> str:
    return (datetime.now(UTC) + timedelta(hours=2)).isoformat()


def _payloads(history: WorkflowHistory) -> list[Payload]:
    """Every payload message anywhere in the history's events."""
    found: list[Payload] = []

    def walk(message: object) -> None:
        if isinstance(message, Payload):
            found.append(message)
            return
        for field, value in message.ListFields():  # type: ignore[attr-defined]
            if field.type != field.TYPE_MESSAGE:
                continue
            if field.message_type.GetOptions().map_entry:
                items = value.values()
            elif isinstance(value, Message):
                items = [value]
            else:  # a repeated field
                items = value
            for item in items:
                walk(item)

    for event in history.events:
        walk(event)
    return found


async def _show(server: Server, workflow_id: str, *extra: str) -> str:
    """`temporal workflow show -o json`, payload data decoded from base64 (in a thread: the API
    it may call runs on this event loop)."""
    shown = await asyncio.to_thread(
        subprocess.run,
        [
            temporal_cli(),
            "workflow",
            "show",
            "--address",
            server.address,
            "--workflow-id",
            workflow_id,
            "--output",
            "json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    # JSON output carries payload data as base64: read it as the operator's tools would.
    texts = [shown.stdout]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for name, value in node.items():
                if name == "data" and isinstance(value, str):
                    with contextlib.suppress(ValueError):
                        texts.append(base64.b64decode(value).decode("utf-8", "replace"))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(shown.stdout))
    return "\n".join(texts)


async def test_a_ticket_across_a_key_rotation_leaves_nothing_readable(
    server: Server, task_queue: str
) -> None:
    key = unique("ENC")
    wid = ticket_workflow_id(key)

    # 1. Key A only: open the ticket and acknowledge it over HTTP.
    async with running(server, task_queue, KEY_A) as stack:
        opened = await stack.http.post("/v1/tickets", json=_ticket(key, SUBJECT, CUSTOMER))
        assert opened.status_code == 201, opened.text
        acked = await stack.http.post(
            f"/v1/tickets/{key}/acknowledge",
            json={"actor": "agent:jane", "message": MESSAGE_1, "next_update_eta": _eta()},
        )
        assert acked.status_code == 200, acked.text
        before = await stack.client.get_workflow_handle(wid).fetch_history()
    ids_before = {p.metadata[KEY_ID_METADATA] for p in _payloads(before) if is_encrypted(p)}
    assert ids_before == {b"2026-01"}

    # 2. Rotation: B in front, A kept. The same ticket goes on; old and new payloads decode.
    async with running(server, task_queue, KEY_B, KEY_A) as stack:
        updated = await stack.http.post(
            f"/v1/tickets/{key}/updates",
            json={"actor": "agent:jane", "message": MESSAGE_2, "next_update_eta": _eta()},
        )
        assert updated.status_code == 200, updated.text
        view = (await stack.http.get(f"/v1/tickets/{key}")).json()
        assert view["subject"] == SUBJECT, view
        handle = stack.client.get_workflow_handle(wid)
        description = await handle.describe()
        assert SUBJECT in (await description.static_summary() or "")
        history = await handle.fetch_history()

        # What the CLI shows: nothing readable without the codec, everything through /codec.
        raw = await _show(server, wid)
        decoded = await _show(server, wid, "--codec-endpoint", f"{stack.api}/codec")
    payloads = _payloads(history)
    assert {p.metadata[KEY_ID_METADATA] for p in payloads if is_encrypted(p)} == {
        b"2026-01",
        b"2026-11",
    }
    # Left in the clear: search attributes (typed, by design), the SDK's local-activity marker
    # bookkeeping (sequence number, activity type, timing) and its patch markers (our patch ids,
    # workflows/ticket.py); every other payload is sealed.
    patch = {"id": BREACH_OVERDUE_PATCH, "deprecated": False}
    markers = [
        p
        for p in payloads
        if not is_encrypted(p) and p.data.startswith(b'{"id":') and json.loads(p.data) == patch
    ]
    clear = [p for p in payloads if not is_encrypted(p) and p not in markers]
    assert all("type" in p.metadata or p.data.startswith(b'{"seq":') for p in clear), clear
    # Most of what the ticket itself writes is sealed (patch markers are the SDK's, not ours).
    assert len(clear) < (len(payloads) - len(markers)) / 2
    for secret in SECRETS:
        assert secret not in raw, f"{secret!r} readable in `temporal workflow show`"
    for secret in (SUBJECT, CUSTOMER, MESSAGE_1, MESSAGE_2):
        assert secret in decoded, f"{secret!r} not decoded by --codec-endpoint"

    # 3. The whole history replays with B,A (the replayer's converter); A alone cannot read it.
    replayed = await Replayer(
        workflows=[TicketWorkflow],
        data_converter=data_converter(Settings(codec_keys=(KEY_B, KEY_A))),
        workflow_runner=workflow_runner(),
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None
    # Drop B too early and the history no longer replays: a failure, never a silent decode.
    without_b = await Replayer(
        workflows=[TicketWorkflow],
        data_converter=data_converter(Settings(codec_keys=(KEY_A,))),
        workflow_runner=workflow_runner(),
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert without_b.replay_failure is not None
    assert "2026-11" in str(without_b.replay_failure), without_b.replay_failure
    sealed_b = next(p for p in payloads if p.metadata.get(KEY_ID_METADATA) == b"2026-11")
    with pytest.raises(CodecError, match="2026-11"):
        await server.client((KEY_A,)).data_converter.decode([sealed_b])

    # 4. Nothing of the ticket in the server's files.
    stored = server.stored()
    for secret in SECRETS:
        assert secret.encode() not in stored, f"{secret!r} in the SQLite file"


async def test_the_grep_sees_a_plaintext_ticket(server: Server, task_queue: str) -> None:
    """The control: without keys the subject is in the file, so the grep above can fail."""
    key = unique("PLAIN")
    async with running(server, task_queue) as stack:
        opened = await stack.http.post(
            "/v1/tickets", json=_ticket(key, CONTROL_SUBJECT, "Control Customer Ltd")
        )
        assert opened.status_code == 201, opened.text
    assert CONTROL_SUBJECT.encode() in server.stored()
    assert CONTROL_SUBJECT in await _show(server, ticket_workflow_id(key))


async def test_visibility_and_workflow_ids_carry_no_personal_data(
    server: Server,
) -> None:
    """Search attributes are not encrypted: policy, tier, severity, state and deadlines only."""
    keys = [unique("VIS"), unique("VIS")]
    for key, codec_keys in zip(keys, ((), (KEY_A,)), strict=True):
        async with running(server, unique("codec-vis"), *codec_keys) as stack:
            opened = await stack.http.post(
                "/v1/tickets", json=_ticket(key, VIS_SUBJECT, VIS_CUSTOMER)
            )
            assert opened.status_code == 201, opened.text
            acked = await stack.http.post(
                f"/v1/tickets/{key}/acknowledge",
                json={"actor": "agent:jane", "message": MESSAGE_1, "next_update_eta": _eta()},
            )
            assert acked.status_code == 200, acked.text
    query = " OR ".join(f"WorkflowId = '{ticket_workflow_id(k)}'" for k in keys)
    for _ in range(100):
        listed = await server.env.client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=server.env.client.namespace, query=query)
        )
        if len(listed.executions) == 2 and all(
            "SlaNextDeadline" in e.search_attributes.indexed_fields for e in listed.executions
        ):
            break
        await asyncio.sleep(0.2)
    assert len(listed.executions) == 2
    for execution in listed.executions:
        fields = execution.search_attributes.indexed_fields
        assert set(fields) <= {
            "TicketPolicy",
            "TicketTier",
            "TicketSeverity",
            "TicketState",
            "SlaBreached",
            "SlaNextDeadline",
            "SlaBreachedClocks",
            "BuildIds",
            "TemporalChangeVersion",
        }, sorted(fields)
        searchable = execution.search_attributes.SerializeToString() + (
            execution.execution.workflow_id.encode()
        )
        for secret in (VIS_SUBJECT, VIS_CUSTOMER, "Flumpington", "Grommet"):
            assert secret.encode() not in searchable


async def test_a_worker_without_the_key_fails_loudly_and_counts_it(server: Server) -> None:
    """The worker as `ticketclock worker` builds it (Prometheus runtime, `connect`): a ticket
    sealed with a key it does not list fails its workflow task naming the key id, never runs on
    undecoded input, and `ticketclock_codec_failures{reason="unknown_key"}` appears on /metrics."""
    port = free_port()
    settings = dataclasses.replace(
        api_settings(unique("codec-worker")),
        temporal_address=server.address,
        metrics_port=port,
        codec_keys=(KEY_A,),
    )
    runtime = metrics_runtime(settings)
    worker_client = await connect(settings, runtime=runtime)
    key = unique("LOST")
    foreign = server.client((("lost-key", bytes(range(7, 39))),))
    async with build_worker(worker_client, settings):
        handle = await foreign.start_workflow(
            "TicketWorkflow",
            {"key": key},
            id=ticket_workflow_id(key),
            task_queue=settings.task_queue,
        )
        failure = ""
        for _ in range(100):
            async for event in handle.fetch_history_events():
                if event.HasField("workflow_task_failed_event_attributes"):
                    failure = event.workflow_task_failed_event_attributes.failure.message
            if failure:
                break
            await asyncio.sleep(0.1)
        async with httpx.AsyncClient() as http:
            scraped = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
        await handle.terminate("test finished")
    assert "lost-key" in failure, failure
    counted = [
        line
        for line in scraped.splitlines()
        if line.startswith("ticketclock_codec_failures") and 'reason="unknown_key"' in line
    ]
    assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1, scraped[-2000:]
