"""Helpdesk integrations end to end: signed Zendesk and Jira webhooks into the real API (uvicorn),
the real worker and the real dev server; SLA state back out to a real HTTP server that checks each
write-back request against Zendesk's and Jira's documented APIs."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.integrations import metrics, signatures
from api.temporal_gateway import TicketGateway
from api.tickets import _details, _summary
from harness.receivers import ReceivedRequest, Reply, WebhookReceiver
from harness.stack import POLICY_ID, write_policy
from plumbing.settings import ApiToken, Settings
from policies.catalog import load_catalog
from policies.customer import Customer
from tests.support import unique
from tests.support.api import Served
from ticketclock.worker import build_worker
from workflows.messages import TicketInput

ROOT = Path(__file__).resolve().parents[1]
ZD_SECRET = "zendesk-signing-secret-0123456789"
JIRA_SECRET = "jira-webhook-secret-0123456789"
TOKEN = "integrations-e2e-token-0123456789"
ZD_EMAIL, ZD_TOKEN = "sla-bot@acme.test", "zendesk-api-token"
JIRA_EMAIL, JIRA_TOKEN = "sla-bot@acme.test", "atlassian-api-token"


# -- a helpdesk's API, as documented --------------------------------------------------------------
def _basic(header: str | None) -> str | None:
    if not header or not header.startswith("Basic "):
        return None
    return base64.b64decode(header.removeprefix("Basic ")).decode()


def zendesk_problems(req: ReceivedRequest) -> list[str]:
    """Update Ticket: PUT /api/v2/tickets/{id}, {"ticket": {"comment": {"body", "public"},
    "additional_tags": [...]}}, API token auth `{email}/token:{token}`."""
    problems = []
    if req.method != "PUT" or not re.fullmatch(r"/api/v2/tickets/[0-9]+", req.path):
        problems.append(f"not Update Ticket: {req.method} {req.path}")
    if _basic(req.headers.get("authorization")) != f"{ZD_EMAIL}/token:{ZD_TOKEN}":
        problems.append("not API-token basic auth")
    if not req.headers.get("content-type", "").startswith("application/json"):
        problems.append("not JSON")
    try:
        ticket = req.json()["ticket"]
        comment = ticket["comment"]
        assert set(ticket) <= {"comment", "additional_tags"}, set(ticket)
        assert isinstance(comment["body"], str) and comment["body"], "empty body"
        assert comment["public"] is False, "a public comment"
        tags = ticket["additional_tags"]
        assert tags and all(re.fullmatch(r"[a-z0-9_]+", t) for t in tags), tags
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        problems.append(f"body: {exc!r}")
    return problems


def jira_problems(req: ReceivedRequest) -> list[str]:
    """Edit issue (labels) and JSM Create request comment (public: false), basic email:token."""
    problems = []
    if _basic(req.headers.get("authorization")) != f"{JIRA_EMAIL}:{JIRA_TOKEN}":
        problems.append("not API-token basic auth")
    try:
        body = req.json()
        if req.method == "PUT" and re.fullmatch(
            r"/rest/api/3/issue/[A-Z][A-Z0-9_]*-[0-9]+", req.path
        ):
            [op] = body["update"]["labels"]
            assert set(body) == {"update"} and re.fullmatch(r"[a-z0-9_]+", op["add"]), body
        elif req.method == "POST" and re.fullmatch(
            r"/rest/servicedeskapi/request/[A-Z][A-Z0-9_]*-[0-9]+/comment", req.path
        ):
            assert set(body) == {"body", "public"}, body
            assert isinstance(body["body"], str) and body["body"]
            assert body["public"] is False, "a public comment"
        else:
            problems.append(f"not a documented endpoint: {req.method} {req.path}")
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        problems.append(f"body: {exc!r}")
    return problems


class HelpdeskApi(WebhookReceiver):
    """Zendesk's and Jira's write-back endpoints on one port: 400 for anything undocumented."""

    def __init__(self) -> None:
        super().__init__(path="")
        self.problems: list[str] = []
        self.forced: int | None = None  # answer every request with this status

    def _record(self, request: ReceivedRequest) -> Reply:
        super()._record(request)
        if self.forced is not None:
            return Reply(self.forced, b'{"error": "RecordNotFound"}')
        checker = zendesk_problems if request.path.startswith("/api/v2/") else jira_problems
        problems = checker(request)
        if problems:
            self.problems += problems
            return Reply(400, json.dumps({"errors": problems}).encode())
        if request.method == "PUT" and request.path.startswith("/rest/api/3/issue/"):
            return Reply(204, b"")
        if request.path.startswith("/rest/servicedeskapi/"):
            return Reply(201, b'{"id": "10001", "public": false}')
        return Reply(200, b'{"ticket": {}}')


# -- the stack ------------------------------------------------------------------------------------
@dataclass
class Stack:
    http: httpx.AsyncClient
    helpdesk: HelpdeskApi
    gateway: TicketGateway  # the API's own, for what no helpdesk event can ask (a test knob)

    async def zendesk(self, payload: dict[str, Any], *, timestamp: str | None = None) -> Any:
        body = json.dumps(payload).encode()
        ts = timestamp or datetime.now(UTC).isoformat().replace("+00:00", "Z")
        headers = {
            signatures.ZENDESK_TIMESTAMP: ts,
            signatures.ZENDESK_SIGNATURE: signatures.zendesk_signature(ZD_SECRET, ts, body),
            "Content-Type": "application/json",
        }
        return await self.http.post("/v1/integrations/zendesk", content=body, headers=headers)

    async def jira(self, payload: dict[str, Any], identifier: str) -> Any:
        body = json.dumps(payload).encode()
        headers = {
            signatures.JIRA_SIGNATURE: signatures.jira_signature(JIRA_SECRET, body),
            signatures.JIRA_IDENTIFIER: identifier,
            "Content-Type": "application/json",
        }
        return await self.http.post("/v1/integrations/jira", content=body, headers=headers)

    async def ticket(self, key: str) -> dict[str, Any]:
        resp = await self.http.get(f"/v1/tickets/{key}")
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data


@contextlib.asynccontextmanager
async def stack(
    env: WorkflowEnvironment, zd_mapping: Path, jira_mapping: Path, **kw: Any
) -> AsyncIterator[Stack]:
    async with HelpdeskApi() as helpdesk:
        settings = Settings(
            task_queue=unique("integrations"),
            api_tokens=(
                ApiToken(
                    "e2e", TOKEN, frozenset({"tickets:create", "tickets:act", "tickets:read"})
                ),
            ),
            zendesk_webhook_secret=ZD_SECRET,
            zendesk_mapping=str(zd_mapping),
            jira_webhook_secret=JIRA_SECRET,
            jira_mapping=str(jira_mapping),
            zendesk_url=helpdesk.url,
            zendesk_email=ZD_EMAIL,
            zendesk_api_token=ZD_TOKEN,
            jira_url=helpdesk.url,
            jira_email=JIRA_EMAIL,
            jira_api_token=JIRA_TOKEN,
            **kw,
        )

        async def client_factory() -> Any:
            return env.client

        app = create_app(settings, client_factory)
        async with (
            build_worker(env.client, settings),
            Served(app) as served,
            httpx.AsyncClient(
                base_url=served.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
            ) as http,
        ):
            yield Stack(http, helpdesk, app.state.gateway)


EXAMPLES = ROOT / "docs" / "examples"


@pytest.fixture
async def examples(dev_env: WorkflowEnvironment) -> AsyncIterator[Stack]:
    async with stack(
        dev_env, EXAMPLES / "zendesk-mapping.toml", EXAMPLES / "jira-mapping.toml"
    ) as s:
        yield s


def shape(view: dict[str, Any]) -> tuple[Any, ...]:
    """What must be the same whichever door the actions came in by."""
    clocks = sorted((c["clock"], c["cycle"], c["status"]) for c in view["clocks"])
    actions = [e["action"] for e in view["events"] if e["accepted"] and e["via"] == "update"]
    return view["status"], view["severity"], tuple(clocks), tuple(actions)


async def http_life(s: Stack) -> list[tuple[Any, ...]]:
    """The reference: the same life through the HTTP API."""
    key = unique("HTTP")
    body = {
        "key": key,
        "policy": "confluence-health-check",
        "tier": "standard",
        "severity": "sev3",
        "customer": {"timezone": "UTC"},
    }
    created = await s.http.post("/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    shapes = [shape(created.json())]
    for path, payload in [
        ("acknowledge", {"actor": "agent:1"}),
        ("waiting-on-customer", {"actor": "agent:1"}),
        ("customer-replies", {"actor": "customer:1"}),
        ("resolve", {"actor": "agent:1", "solution": "x"}),
        ("reopen", {"actor": "customer:1", "reason": "x"}),
        ("severity", {"actor": "agent:1", "severity": "sev2", "reason": "x"}),
    ]:
        resp = await s.http.post(f"/v1/tickets/{key}/{path}", json=payload)
        assert resp.status_code == 200, resp.text
        shapes.append(shape(resp.json()))
    return shapes


# -- Zendesk --------------------------------------------------------------------------------------
def zd_event(kind: str, ticket_id: int, event: dict[str, Any] | None = None, **detail: Any) -> Any:
    return {
        "account_id": 22129848,
        "id": str(uuid.uuid4()),
        "type": f"zen:event-type:ticket.{kind}",
        "time": datetime.now(UTC).isoformat(),
        "subject": f"zen:ticket:{ticket_id}",
        "zendesk_event_version": "2022-11-06",
        "detail": {
            "id": str(ticket_id),
            "subject": "Confluence is slow",
            "requester_id": "7001",
            "status": "OPEN",
            "priority": "NORMAL",
            # Ten minutes ago: a comment added at the creation instant is the description.
            "created_at": (datetime.now(UTC) - timedelta(minutes=10)).isoformat(),
            "via": {"channel": "web_form"},
            "tags": ["wiki"],
            "brand_id": "360001",
            **detail,
        },
        "event": event or {},
    }


STAFF = {
    "comment": {
        "id": "1",
        "body": "On it",
        "is_public": True,
        "author": {"id": "9001", "is_staff": True, "name": "Jane"},
    }
}
REQUESTER = {
    "comment": {
        "id": "2",
        "body": "Logs",
        "is_public": True,
        "author": {"id": "7001", "is_staff": False, "name": "Cust"},
    }
}
PRIVATE = {
    "comment": {
        "id": "3",
        "body": "hm",
        "is_public": False,
        "author": {"id": "9001", "is_staff": True, "name": "Jane"},
    }
}


async def test_a_zendesk_ticket_lives_the_same_life_as_over_http(examples: Stack) -> None:
    s = examples
    reference = await http_life(s)
    tid = uuid.uuid4().int % 10**12
    key = f"ZD-{tid}"
    life = [
        zd_event("created", tid, {"meta": {"sequence": {"id": "x", "position": 1}}}, status="NEW"),
        zd_event("comment_added", tid, STAFF),
        zd_event("status_changed", tid, {"previous": "OPEN", "current": "PENDING"}),
        zd_event("comment_added", tid, REQUESTER),
        zd_event("status_changed", tid, {"previous": "OPEN", "current": "SOLVED"}),
        zd_event("status_changed", tid, {"previous": "SOLVED", "current": "OPEN"}),
        zd_event("priority_changed", tid, {"previous": "NORMAL", "current": "HIGH"}),
    ]
    applied = []
    for step, event in enumerate(life):
        resp = await s.zendesk(event)
        assert resp.status_code == 200, resp.text
        applied.append(resp.json()["applied"])
        # The answer comes once the ticket reflects the event: read right after it.
        assert shape(await s.ticket(key)) == reference[step], step
    assert applied == [
        ["open"],
        ["acknowledge"],
        ["request_customer_info"],
        ["customer_reply"],
        ["resolve"],
        ["reopen"],
        ["change_severity"],
    ]
    # What maps to nothing answers 2xx with the reason (Zendesk retries anything else).
    noise = [
        zd_event("comment_added", tid, PRIVATE),
        zd_event("status_changed", tid, {"previous": "PENDING", "current": "OPEN"}),
        zd_event("tags_changed", tid, {"previous": ["wiki"], "current": ["wiki", "x"]}),
        life[0],  # the creation again
    ]
    before = shape(await s.ticket(key))
    for event in noise:
        resp = await s.zendesk(event)
        assert resp.status_code == 200, resp.text
        assert "ignored" in resp.json(), resp.json()
    assert shape(await s.ticket(key)) == before

    # Redeliveries change nothing, even after later events.
    raised = await s.zendesk(
        zd_event("priority_changed", tid, {"previous": "HIGH", "current": "URGENT"})
    )
    assert raised.json()["applied"] == ["change_severity"]
    after = shape(await s.ticket(key))
    assert after[1] == "sev1"
    for event in (life[6], life[1], life[2]):
        resp = await s.zendesk(event)
        assert resp.status_code == 200, resp.text
    assert shape(await s.ticket(key)) == after

    # A later public reply is an update; once closed, the ticket refuses (2xx, "ignored").
    update = await s.zendesk(zd_event("comment_added", tid, STAFF, priority="URGENT"))
    assert update.json().get("applied") == ["agent_update"] or "EtaRequired" in update.text
    closed = await s.zendesk(
        zd_event("status_changed", tid, {"previous": "OPEN", "current": "CLOSED"})
    )
    assert closed.json()["applied"] == ["close"]
    refused_before = metrics.total(metrics.REFUSED, "zendesk")
    late = await s.zendesk(zd_event("comment_added", tid, REQUESTER))
    assert late.status_code == 200
    assert "TicketClosed" in late.json()["ignored"]
    assert metrics.total(metrics.REFUSED, "zendesk") == refused_before + 1


async def test_zendesk_signatures_and_replays(examples: Stack) -> None:
    s = examples
    tid = uuid.uuid4().int % 10**12
    event = zd_event("created", tid)
    rejected_before = metrics.total(metrics.REJECTED, "zendesk")
    # A captured request replayed after the window: refused although correctly signed.
    stale = (datetime.now(UTC) - timedelta(minutes=6)).isoformat()
    assert (await s.zendesk(event, timestamp=stale)).status_code == 401
    body = json.dumps(event).encode()
    ts = datetime.now(UTC).isoformat()
    forged = await s.http.post(
        "/v1/integrations/zendesk",
        content=body,
        headers={
            signatures.ZENDESK_TIMESTAMP: ts,
            signatures.ZENDESK_SIGNATURE: signatures.zendesk_signature("wrong", ts, body),
        },
    )
    assert forged.status_code == 401
    assert metrics.total(metrics.REJECTED, "zendesk") == rejected_before + 2
    # An agent opens a ticket for a caller: its description (a staff comment in the same action)
    # is no first response.
    opened = zd_event("created", tid + 1)
    description = zd_event("comment_added", tid + 1, STAFF)
    description["time"] = description["detail"]["created_at"] = opened["detail"]["created_at"]
    assert (await s.zendesk(opened)).json()["applied"] == ["open"]
    assert "description" in (await s.zendesk(description)).json()["ignored"]
    assert (await s.ticket(f"ZD-{tid + 1}"))["status"] == "awaiting_first_response"
    # Nothing was created by either refused request.
    assert (await s.http.get(f"/v1/tickets/ZD-{tid}")).status_code == 404
    # A ticket first seen through a later event is opened from that event's detail.
    resp = await s.zendesk(zd_event("comment_added", tid, STAFF, priority="LOW"))
    assert resp.json()["applied"] == ["acknowledge"], resp.text
    view = await s.ticket(f"ZD-{tid}")
    assert (view["severity"], view["status"]) == ("sev4", "in_progress")


async def test_a_redelivery_after_continue_as_new_changes_nothing(examples: Stack) -> None:
    """Issue 15: Temporal dedupes an Update id within one workflow run only; the ticket itself
    remembers the events it applied, so a redelivery into a later run changes nothing either."""
    s = examples
    tid = uuid.uuid4().int % 10**12
    key = f"ZD-{tid}"
    opened_at = datetime.now(UTC)
    sla = load_catalog().resolve(
        "confluence-health-check", "standard", "sev3", Customer(timezone="UTC"), opened_at=opened_at
    )
    # Opened as the route opens it, but continuing as new after 40 history events (a knob no
    # helpdesk event sets).
    ticket = TicketInput(
        key=key,
        sla=sla,
        customer=Customer(timezone="UTC"),
        opened_at=opened_at,
        subject="Confluence is slow",
        continue_as_new_after_events=40,
    )
    summary, details = _summary(sla, ticket.subject), _details(ticket)
    await s.gateway.start_ticket(ticket, fingerprint="e2e", summary=summary, details=details)
    first = [
        zd_event("comment_added", tid, STAFF),
        zd_event("status_changed", tid, {"previous": "OPEN", "current": "PENDING"}),
        zd_event("comment_added", tid, REQUESTER),
    ]
    for event in first:
        resp = await s.zendesk(event)
        assert resp.status_code == 200 and "applied" in resp.json(), resp.text
    view = await s.ticket(key)
    assert (view["runs"], view["status"]) == (1, "in_progress")
    # Later events (each a new event id) until the ticket has continued as new.
    for _ in range(40):
        for event in (
            zd_event("status_changed", tid, {"previous": "OPEN", "current": "PENDING"}),
            zd_event("comment_added", tid, REQUESTER),
        ):
            resp = await s.zendesk(event)
            assert resp.status_code == 200 and "applied" in resp.json(), resp.text
        view = await s.ticket(key)
        if view["runs"] >= 2:
            break
    assert view["runs"] >= 2, "the ticket should have continued as new"
    assert view["status"] == "in_progress"
    before = shape(view)
    ignored_before = metrics.COUNTS[(metrics.IGNORED, "zendesk", "duplicate")]
    # Redelivered into the new run: the staff reply (would be an agent_update now), the switch
    # to pending (would wait on the customer again), the customer's reply.
    for event in first:
        resp = await s.zendesk(event)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"ticket": key, "ignored": f"duplicate event {event['id']}"}
    after = await s.ticket(key)
    assert shape(after) == before and after["runs"] == view["runs"]
    assert metrics.COUNTS[(metrics.IGNORED, "zendesk", "duplicate")] == ignored_before + 3


# -- Jira -----------------------------------------------------------------------------------------
def jira_payload(kind: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": int(datetime.now(UTC).timestamp() * 1000),
        "webhookEvent": kind,
        "user": {"accountId": "agent-1", "accountType": "atlassian"},
        "issue": {
            "id": "10001",
            "key": key,
            "fields": {
                "summary": "Confluence is slow",
                "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "priority": {"name": "Medium", "id": "3"},
                "status": {"name": "Waiting for support"},
                "project": {"key": key.split("-")[0]},
                "issuetype": {"name": "[System] Incident"},
                "reporter": {"accountId": "cust-1", "accountType": "customer"},
                "customfield_10010": {"requestType": {"name": "Report a system problem"}},
            },
        },
        **extra,
    }


def change(field: str, old: str, new: str) -> dict[str, Any]:
    return {
        "changelog": {"id": "1", "items": [{"field": field, "fromString": old, "toString": new}]}
    }


AGENT_COMMENT = {
    "comment": {
        "id": "1",
        "author": {"accountId": "agent-1", "accountType": "atlassian"},
        "body": "On it",
        "jsdPublic": True,
    }
}
CUSTOMER_COMMENT = {
    "comment": {
        "id": "2",
        "author": {"accountId": "cust-1", "accountType": "customer"},
        "body": "Logs",
        "jsdPublic": True,
    }
}
INTERNAL_COMMENT = {
    "comment": {
        "id": "3",
        "author": {"accountId": "agent-1", "accountType": "atlassian"},
        "body": "hm",
        "jsdPublic": False,
    }
}


async def test_a_jira_issue_lives_the_same_life_as_over_http(examples: Stack) -> None:
    s = examples
    reference = await http_life(s)
    key = f"S{uuid.uuid4().hex[:6].upper()}-{uuid.uuid4().int % 10**6}"
    life = [
        jira_payload("jira:issue_created", key),
        jira_payload("comment_created", key, **AGENT_COMMENT),
        jira_payload(
            "jira:issue_updated", key, **change("status", "In progress", "Waiting for customer")
        ),
        jira_payload("comment_created", key, **CUSTOMER_COMMENT),
        jira_payload(
            "jira:issue_updated", key, **change("status", "Waiting for support", "Resolved")
        ),
        jira_payload(
            "jira:issue_updated", key, **change("status", "Resolved", "Waiting for support")
        ),
        jira_payload("jira:issue_updated", key, **change("priority", "Medium", "High")),
    ]
    ids = [str(uuid.uuid4()) for _ in life]
    for step, (payload, identifier) in enumerate(zip(life, ids, strict=True)):
        resp = await s.jira(payload, identifier)
        assert resp.status_code == 200, resp.text
        assert "applied" in resp.json(), resp.json()
        assert shape(await s.ticket(key)) == reference[step], step
    before = shape(await s.ticket(key))
    for payload in (
        jira_payload("comment_created", key, **INTERNAL_COMMENT),
        jira_payload("jira:issue_updated", key, **change("assignee", "", "Jane")),
    ):
        resp = await s.jira(payload, str(uuid.uuid4()))
        assert "ignored" in resp.json(), resp.json()
    # Jira retries a delivery with the same X-Atlassian-Webhook-Identifier: nothing changes,
    # even after a later change of the same field.
    urgent = await s.jira(
        jira_payload("jira:issue_updated", key, **change("priority", "High", "Highest")), "later"
    )
    assert urgent.json()["applied"] == ["change_severity"]
    after = shape(await s.ticket(key))
    assert after != before and after[1] == "sev1"
    for payload, identifier in zip(life, ids, strict=True):
        assert (await s.jira(payload, identifier)).status_code == 200
    assert shape(await s.ticket(key)) == after
    # Signatures: a wrong one is 401 and changes nothing.
    body = json.dumps(life[4]).encode()
    forged = await s.http.post(
        "/v1/integrations/jira",
        content=body,
        headers={
            signatures.JIRA_SIGNATURE: signatures.jira_signature("wrong", body),
            signatures.JIRA_IDENTIFIER: "forged",
        },
    )
    assert forged.status_code == 401
    assert shape(await s.ticket(key)) == after


# -- write-back ---------------------------------------------------------------------------------
DRILL_MAPPING = """
[defaults]
policy = "{policy}"
tier = "standard"
severity = "sev3"
timezone = "UTC"

[priorities]
{priorities}
"""


async def test_warnings_and_breaches_come_back_as_internal_notes(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    write_policy(tmp_path / "policies", {"first_response": 3.0})
    zd_map, jira_map = tmp_path / "zd.toml", tmp_path / "jira.toml"
    zd_map.write_text(DRILL_MAPPING.format(policy=POLICY_ID, priorities='urgent = "sev1"'))
    jira_map.write_text(DRILL_MAPPING.format(policy=POLICY_ID, priorities='Highest = "sev1"'))
    async with stack(dev_env, zd_map, jira_map, policy_dirs=(str(tmp_path / "policies"),)) as s:
        tid = uuid.uuid4().int % 10**12
        key = f"W{uuid.uuid4().hex[:6].upper()}-1"
        now = datetime.now(UTC).isoformat()
        created = zd_event("created", tid, priority="URGENT", created_at=now)
        assert (await s.zendesk(created)).status_code == 200
        jira_created = jira_payload("jira:issue_created", key)
        jira_created["issue"]["fields"]["priority"] = {"name": "Highest"}
        assert (await s.jira(jira_created, str(uuid.uuid4()))).status_code == 200
        # Warning (75%) and breach for each: 1 request each on Zendesk, 2 each on Jira.
        requests = await s.helpdesk.wait_for(6, timeout=60)
        assert s.helpdesk.problems == []
        zd = [r for r in requests if r.path == f"/api/v2/tickets/{tid}"]
        assert [r.json()["ticket"]["additional_tags"] for r in zd] == [
            ["sla_warning_first_response"],
            ["sla_breached_first_response"],
        ]
        assert "SLA breached: first response" in zd[1].json()["ticket"]["comment"]["body"]
        labels = [
            r.json()["update"]["labels"][0]["add"]
            for r in requests
            if r.method == "PUT" and r.path.endswith(key)
        ]
        assert labels == ["sla_warning_first_response", "sla_breached_first_response"]
        comments = [r for r in requests if r.path.endswith(f"/request/{key}/comment")]
        assert len(comments) == 2 and all(r.json()["public"] is False for r in comments)
        keys = {r.headers["idempotency-key"] for r in requests}
        assert len(keys) == 4  # one per notification; Jira's two requests share theirs
        view = await s.ticket(f"ZD-{tid}")
        [note] = [n for c in view["clocks"] for n in c["notifications"] if n["event"] == "breach"]
        assert note["outcome"] == "delivered" and note["deliveries"] == ["zendesk: delivered (200)"]


async def test_a_rejected_write_back_is_not_retried(
    dev_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """Zendesk answering 4xx (say, a deleted ticket) is final: one attempt, recorded as failed."""
    write_policy(tmp_path / "policies", {"first_response": 2.0})
    zd_map = tmp_path / "zd.toml"
    zd_map.write_text(DRILL_MAPPING.format(policy=POLICY_ID, priorities='urgent = "sev1"'))
    async with stack(
        dev_env, zd_map, EXAMPLES / "jira-mapping.toml", policy_dirs=(str(tmp_path / "policies"),)
    ) as s:
        s.helpdesk.forced = 404
        tid = uuid.uuid4().int % 10**12
        created = zd_event(
            "created", tid, priority="URGENT", created_at=datetime.now(UTC).isoformat()
        )
        assert (await s.zendesk(created)).status_code == 200
        view: dict[str, Any] = {}
        for _ in range(200):
            view = await s.ticket(f"ZD-{tid}")
            notes = [
                n for c in view["clocks"] for n in c["notifications"] if n["event"] == "breach"
            ]
            if notes and notes[0]["outcome"] != "pending":
                break
            await asyncio.sleep(0.1)
        [note] = [n for c in view["clocks"] for n in c["notifications"] if n["event"] == "breach"]
        assert note["outcome"] == "failed", note
        breach_requests = [r for r in s.helpdesk.requests if "sla_breached" in r.body.decode()]
        assert len(breach_requests) == 1  # 404 is not retried
