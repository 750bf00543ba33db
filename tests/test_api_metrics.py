"""`GET /metrics` on the API: the helpdesk integration counters where an operator scrapes them.

Real signed Zendesk deliveries into a real API (uvicorn, listening on every interface), worker and
dev server; the counters are then scraped over HTTP as Prometheus would (from a non-loopback
address with a bearer token, and from loopback without one) and parsed as its text format.
Before this endpoint the inbound counters existed only inside the API process (issue 15).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.integrations import signatures
from plumbing.settings import ApiToken
from tests.support import unique
from tests.support.api import ALL, READER, Served, api_settings, non_loopback_address
from ticketclock.worker import build_worker

ROOT = Path(__file__).resolve().parents[1]
SECRET = "zendesk-metrics-secret-0123456789"
CREATOR = "creator-only-token-0123456789"
SAMPLE = re.compile(r"^([a-z_]+)\{([^}]*)\} ([0-9.e+]+)$")
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[Series, dict[str, str]]:
    """Samples by (name, labels), and each metric's TYPE; fails on a line Prometheus would not
    read."""
    samples: Series = {}
    types: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(tuple(pair.split("=", 1)) for pair in match[2].split(",") if pair)
        samples[(match[1], frozenset((k, v.strip('"')) for k, v in labels))] = float(match[3])
    return samples, types


def series(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def zd_event(kind: str, ticket_id: int, event: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "account_id": 22129848,
        "id": str(uuid.uuid4()),
        "type": f"zen:event-type:ticket.{kind}",
        "time": datetime.now(UTC).isoformat(),
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {
            "id": str(ticket_id),
            "subject": "Confluence is slow",
            "requester_id": "7001",
            "status": "OPEN",
            "priority": "NORMAL",
            "created_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
            "via": {"channel": "web_form"},
        },
        "event": event or {},
    }


def comment(public: bool, staff: bool) -> dict[str, Any]:
    author = {"id": "9001" if staff else "7001", "is_staff": staff, "name": "x"}
    return {
        "comment": {"id": str(uuid.uuid4()), "body": "b", "is_public": public, "author": author}
    }


@dataclasses.dataclass
class Api:
    local: httpx.AsyncClient  # 127.0.0.1
    remote: httpx.AsyncClient | None  # this machine's other address

    async def zendesk(self, payload: dict[str, Any], secret: str = SECRET) -> httpx.Response:
        body = json.dumps(payload).encode()
        ts = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        headers = {
            signatures.ZENDESK_TIMESTAMP: ts,
            signatures.ZENDESK_SIGNATURE: signatures.zendesk_signature(secret, ts, body),
            "Content-Type": "application/json",
        }
        return await self.local.post("/v1/integrations/zendesk", content=body, headers=headers)


@pytest.fixture
async def api(dev_env: WorkflowEnvironment) -> AsyncIterator[Api]:
    settings = dataclasses.replace(
        api_settings(unique("api-metrics")),
        api_tokens=(
            *api_settings("x").api_tokens,
            ApiToken("creator", CREATOR, frozenset({"tickets:create"})),
        ),
        zendesk_webhook_secret=SECRET,
        zendesk_mapping=str(ROOT / "docs" / "examples" / "zendesk-mapping.toml"),
    )

    async def client_factory() -> Client:
        return dev_env.client

    served = Served(create_app(settings, client_factory))
    served.server.config.host = "0.0.0.0"  # noqa: S104
    address = non_loopback_address()
    async with (
        build_worker(dev_env.client, settings),
        served,
        httpx.AsyncClient(base_url=served.url, timeout=60) as local,
    ):
        if address is None:
            yield Api(local, None)
            return
        async with httpx.AsyncClient(base_url=f"http://{address}:{served.port}") as remote:
            yield Api(local, remote)


async def scrape(http: httpx.AsyncClient, token: str | None = None) -> Series:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = await http.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples, types = parse(answer.text)
    for name in (
        "ticketclock_integration_events_received",
        "ticketclock_integration_events_ignored",
        "ticketclock_integration_events_refused",
        "ticketclock_integration_requests_rejected",
    ):
        assert types.get(name) == "counter", (name, answer.text)
    return samples


async def test_signed_deliveries_show_on_the_api_s_metrics_endpoint(api: Api) -> None:
    scraper = api.remote or api.local
    token = ALL if api.remote else None
    before = await scrape(scraper, token)
    tid = uuid.uuid4().int % 10**12
    steps = [
        (zd_event("created", tid), "applied"),
        (zd_event("comment_added", tid, comment(public=False, staff=True)), "ignored"),
        (zd_event("status_changed", tid, {"previous": "OPEN", "current": "CLOSED"}), "applied"),
        (zd_event("comment_added", tid, comment(public=True, staff=False)), "ignored"),
    ]
    for payload, outcome in steps:
        answer = await api.zendesk(payload)
        assert answer.status_code == 200 and outcome in answer.json(), answer.text
    forged = await api.zendesk(zd_event("created", tid + 1), secret="not-the-secret")
    assert forged.status_code == 401
    after = await scrape(scraper, token)

    def grew(key: tuple[str, frozenset[tuple[str, str]]]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    received = series("ticketclock_integration_events_received", helpdesk="zendesk")
    ignored = series(
        "ticketclock_integration_events_ignored", helpdesk="zendesk", reason="unmapped"
    )
    refused = series(
        "ticketclock_integration_events_refused", helpdesk="zendesk", reason="TicketClosed"
    )
    rejected = series("ticketclock_integration_requests_rejected", helpdesk="zendesk", reason="401")
    assert (grew(received), grew(ignored), grew(refused), grew(rejected)) == (4, 1, 1, 1)
    assert series("ticketclock_integration_events_received", helpdesk="jira") in after
    assert str(tid) not in "".join(name + str(labels) for name, labels in after)


async def test_who_may_scrape(api: Api) -> None:
    assert (await api.local.get("/metrics")).status_code == 200  # loopback: no token
    if api.remote is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    statuses = []
    for token in (None, "wrong-token-0123456789", CREATOR, READER, ALL):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = await api.remote.get("/metrics", headers=headers)
        statuses.append(answer.status_code)
        if answer.status_code != 200:
            assert "ticketclock_" not in answer.text
    assert statuses == [401, 401, 403, 200, 200]
