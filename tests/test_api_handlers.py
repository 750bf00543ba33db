"""API handlers against an in-memory gateway: routing, auth, errors, idempotency, list queries.

No Temporal here; `tests/test_api_e2e.py` runs the same API over real HTTP, a real dev server
and a real worker.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import _Definition

from api.app import create_app
from api.schemas import CreateTicket, TicketFilters
from api.temporal_gateway import (
    ActionRefused,
    TemporalGateway,
    TemporalUnavailable,
    TicketNotFound,
    _translated,
)
from api.visibility import list_query, literal
from tests.support.fakes import (
    ALL,
    AUTH,
    BODY,
    CREATOR,
    READER,
    SETTINGS,
    TOKENS,
    FakeGateway,
)
from workflows.actions import ACTIONS, OPERATOR_ACTIONS, UPDATE_ROUTES
from workflows.messages import Action, TicketStatus
from workflows.ticket import TicketWorkflow
from workflows.updates import update_name


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
async def http(gateway: FakeGateway) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SETTINGS, gateway=gateway)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def assert_error(
    resp: httpx.Response, status: int, field: str | None, type_: str | None = None
) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    if field is not None:
        assert error["field"] == field, error
        assert field in error["message"], error
    if type_ is not None:
        assert error["type"] == type_, error
    assert isinstance(error, dict)
    return error


# -- create ------------------------------------------------------------------------------------
async def test_create_starts_a_ticket(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    resp = await http.post("/v1/tickets", json=BODY, headers=AUTH)
    assert resp.status_code == 201, resp.text
    view = resp.json()
    assert view["key"] == "ZD-1001"
    assert view["policy"] == "confluent-cloud"
    assert view["severity"] == "p1"
    assert view["next_deadline"] is not None
    ticket, _ = gateway.tickets["ZD-1001"]
    assert ticket.sla.policy_id == "confluent-cloud"
    assert ticket.opened_at.tzinfo is not None
    assert gateway.summaries == ["confluent-cloud premier P1: Cluster down"]


async def test_create_same_body_twice_is_200(http: httpx.AsyncClient) -> None:
    first = await http.post("/v1/tickets", json=BODY, headers=AUTH)
    again = await http.post("/v1/tickets", json=BODY, headers=AUTH)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["key"] == "ZD-1001"


async def test_create_same_instant_in_another_offset_is_the_same_body(
    http: httpx.AsyncClient,
) -> None:
    body = {**BODY, "opened_at": "2025-11-20T10:00:00+01:00"}
    assert (await http.post("/v1/tickets", json=body, headers=AUTH)).status_code == 201
    body["opened_at"] = "2025-11-20T09:00:00Z"
    assert (await http.post("/v1/tickets", json=body, headers=AUTH)).status_code == 200


async def test_create_different_body_is_409(http: httpx.AsyncClient) -> None:
    assert (await http.post("/v1/tickets", json=BODY, headers=AUTH)).status_code == 201
    resp = await http.post("/v1/tickets", json={**BODY, "severity": "p2"}, headers=AUTH)
    assert_error(resp, 409, "key", "TicketExists")
    body = {**BODY, "opened_at": "2025-11-20T09:00:00Z"}
    assert_error(await http.post("/v1/tickets", json=body, headers=AUTH), 409, "key")


def test_fingerprint_ignores_a_defaulted_opened_at_only() -> None:
    a = CreateTicket.model_validate(BODY)
    b = CreateTicket.model_validate({**BODY, "customer": {**BODY["customer"]}})
    c = CreateTicket.model_validate({**BODY, "opened_at": "2025-11-20T09:00:00Z"})
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"policy": "nope"}, "policy"),
        ({"severity": "sev9"}, "severity"),
        ({"tier": "gold"}, "tier"),
        ({"opened_at": "2025-11-20T09:00:00"}, "opened_at"),
        ({"key": "has space"}, "key"),
        ({"key": "x" * 129}, "key"),
        ({"customer": {"timezone": "Mars/Olympus"}}, "customer.timezone"),
        ({"customer": {"timezone": 5}}, "customer.timezone"),
        ({"subject": "s" * 201}, "subject"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_create_bad_input_is_422_naming_the_field(
    http: httpx.AsyncClient, gateway: FakeGateway, change: dict[str, Any], field: str
) -> None:
    resp = await http.post("/v1/tickets", json={**BODY, **change}, headers=AUTH)
    assert_error(resp, 422, field)
    assert gateway.tickets == {}


@pytest.mark.parametrize(
    ("path", "content", "why"),
    [
        ("/v1/tickets", b"{not json", "Expecting property name"),
        ("/v1/tickets/ZD-1/close", b'{"actor": "agent:jane",', "Expecting property name"),
        ("/v1/tickets", b"\xff\xfe{", "UTF-8"),
        ("/v1/tickets/ZD-1/acknowledge", b"\x81\x82", "UTF-8"),
    ],
)
async def test_a_body_that_is_not_json_is_422_naming_the_body(
    http: httpx.AsyncClient, gateway: FakeGateway, path: str, content: bytes, why: str
) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    resp = await http.post(path, content=content, headers=headers)
    assert_error(resp, 422, "body", "ValidationError")
    assert resp.json()["error"]["message"].startswith("body: not JSON")
    assert why in resp.json()["error"]["message"]
    assert gateway.tickets == {}


# -- actions -----------------------------------------------------------------------------------
ACTION_BODIES: dict[str, dict[str, Any]] = {route.update: route.example for route in ACTIONS}
MODELS: dict[str, type[Action]] = {route.update: route.model for route in ACTIONS}


def test_every_action_is_an_update_of_the_workflow() -> None:
    defn = _Definition.must_from_class(TicketWorkflow)
    # `opened` (sent with the start) is typed; every action goes through the one dynamic Update,
    # which decodes its payload with the table entry of its name (workflows/actions.py).
    assert set(defn.updates) == {"opened", None}
    assert defn.updates["opened"].fn is TicketWorkflow.opened
    assert sorted(UPDATE_ROUTES) == sorted(r.update for r in (*ACTIONS, *OPERATOR_ACTIONS))
    for route in ACTIONS:
        route.model.model_validate(route.example)  # the OpenAPI examples are valid bodies
        assert update_name(route.model.model_validate(route.example)) == route.update


@pytest.mark.parametrize(
    ("path", "update"),
    [
        ("acknowledge", "acknowledge"),
        ("updates", "agent_update"),
        ("customer-replies", "customer_reply"),
        ("waiting-on-customer", "request_customer_info"),
        ("intake", "complete_intake"),
        ("engineering-ack", "engineering_ack"),
        ("incident-commander", "assign_incident_commander"),
        ("severity", "change_severity"),
        ("mitigate", "mitigate"),
        ("resolve", "resolve"),
        ("reopen", "reopen"),
        ("close", "close"),
        ("review/open", "open_review"),
        ("review/complete", "complete_review"),
        ("escalate", "escalate"),
    ],
)
async def test_action_paths_route_to_their_update(
    http: httpx.AsyncClient, gateway: FakeGateway, path: str, update: str
) -> None:
    await http.post("/v1/tickets", json=BODY, headers=AUTH)
    resp = await http.post(f"/v1/tickets/ZD-1001/{path}", json=ACTION_BODIES[update], headers=AUTH)
    assert resp.status_code == 200, resp.text
    assert resp.json()["key"] == "ZD-1001"
    [(key, name, body)] = gateway.acts
    assert (key, name) == ("ZD-1001", update)
    assert type(body) is MODELS[update]
    assert body.actor == ACTION_BODIES[update]["actor"]


async def test_refused_action_is_409_with_its_type(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    await http.post("/v1/tickets", json=BODY, headers=AUTH)
    gateway.refusal = ActionRefused(
        "EtaRequired", "next_update_eta: P1 responses must promise", "next_update_eta"
    )
    resp = await http.post("/v1/tickets/ZD-1001/updates", json={"actor": "a"}, headers=AUTH)
    assert_error(resp, 409, "next_update_eta", "EtaRequired")


async def test_action_body_is_validated(http: httpx.AsyncClient) -> None:
    await http.post("/v1/tickets", json=BODY, headers=AUTH)
    resp = await http.post("/v1/tickets/ZD-1001/acknowledge", json={}, headers=AUTH)
    assert_error(resp, 422, "actor")
    eta = {"actor": "a", "next_update_eta": "2025-11-20T09:00:00"}
    resp = await http.post("/v1/tickets/ZD-1001/acknowledge", json=eta, headers=AUTH)
    assert_error(resp, 422, "next_update_eta")


async def test_unknown_ticket_is_404(http: httpx.AsyncClient) -> None:
    assert_error(await http.get("/v1/tickets/ZD-404", headers=AUTH), 404, "key", "TicketNotFound")
    resp = await http.post("/v1/tickets/ZD-404/close", json={"actor": "a"}, headers=AUTH)
    assert_error(resp, 404, "key")


async def test_bad_key_in_path_is_422(http: httpx.AsyncClient) -> None:
    assert_error(await http.get("/v1/tickets/a%20b", headers=AUTH), 422, "key")
    resp = await http.get("/v1/tickets/ZD-1/explain/not_a_clock", headers=AUTH)
    assert_error(resp, 422, "clock")


# -- reads and list ----------------------------------------------------------------------------
async def test_get_ticket(http: httpx.AsyncClient) -> None:
    await http.post("/v1/tickets", json=BODY, headers=AUTH)
    resp = await http.get("/v1/tickets/ZD-1001", headers={"Authorization": f"Bearer {READER}"})
    assert resp.status_code == 200
    assert resp.json()["status"] == "awaiting_first_response"


def test_list_query_from_typed_filters() -> None:
    filters = TicketFilters(
        policy="kong",
        tier="enterprise",
        severity="sev1",
        state=TicketStatus.in_progress,
        breached=True,
        due_after=datetime.fromisoformat("2025-11-20T10:00:00+01:00"),
        due_before=datetime.fromisoformat("2025-11-21T00:00:00.250000+00:00"),
    )
    assert list_query(filters) == (
        "WorkflowType = 'TicketWorkflow' AND TicketPolicy = 'kong' AND TicketTier = 'enterprise'"
        " AND TicketSeverity = 'sev1' AND TicketState = 'in_progress' AND SlaBreached = true"
        " AND SlaNextDeadline > '2025-11-20T09:00:00Z'"
        " AND SlaNextDeadline < '2025-11-21T00:00:00.250000Z'"
    )
    assert list_query(TicketFilters()) == "WorkflowType = 'TicketWorkflow'"
    assert list_query(TicketFilters(breached=False)).endswith("SlaBreached = false")


def test_literal_quotes_cannot_break_out() -> None:
    hostile = "x' OR WorkflowType != 'y"
    assert literal(hostile) == "'x\\' OR WorkflowType != \\'y'"
    assert literal("a\\' OR 1=1") == "'a\\\\\\' OR 1=1'"
    # The typed filter refuses it before any query is written.
    with pytest.raises(ValueError, match="tier"):
        TicketFilters(tier=hostile)


async def test_list_builds_the_query_and_pages(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    gateway.next_token = b"\x00\xfftoken/+="
    params = {"policy": "kong", "state": "in_progress", "breached": "false", "limit": "2"}
    resp = await http.get("/v1/tickets", params=params, headers=AUTH)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["items"][0]["key"] == "ZD-1"
    cursor = page["next_cursor"]
    assert cursor and "=" not in cursor and "/" not in cursor
    assert gateway.queries == [
        (
            "WorkflowType = 'TicketWorkflow' AND TicketPolicy = 'kong'"
            " AND TicketState = 'in_progress' AND SlaBreached = false",
            2,
            None,
        )
    ]
    gateway.next_token = None
    resp = await http.get("/v1/tickets", params={**params, "cursor": cursor}, headers=AUTH)
    assert resp.json()["next_cursor"] is None
    assert gateway.queries[-1][2] == b"\x00\xfftoken/+="


async def test_a_cursor_only_pages_the_filters_it_came_from(
    http: httpx.AsyncClient, gateway: FakeGateway
) -> None:
    """Foreign, tampered or other-filter cursors are refused before Temporal sees them."""
    gateway.next_token = b"page-2-of-kong"
    kong = {"policy": "kong", "limit": "2"}
    cursor = (await http.get("/v1/tickets", params=kong, headers=AUTH)).json()["next_cursor"]
    asked = len(gateway.queries)
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    tampered = base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode().rstrip("=")
    bare_token = base64.urlsafe_b64encode(b"page-2-of-kong").decode().rstrip("=")
    refused = [
        {**kong, "policy": "confluent-cloud", "cursor": cursor},  # other filters
        {**kong, "cursor": tampered},
        {**kong, "cursor": bare_token},  # Temporal's token without the seal
        {**kong, "cursor": "AAAA"},
    ]
    for params in refused:
        resp = await http.get("/v1/tickets", params=params, headers=AUTH)
        assert_error(resp, 422, "cursor")
        assert "these filters" in resp.json()["error"]["message"]
    assert len(gateway.queries) == asked
    ok = await http.get("/v1/tickets", params={**kong, "cursor": cursor}, headers=AUTH)
    assert ok.status_code == 200, ok.text
    assert gateway.queries[-1][2] == b"page-2-of-kong"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"policy": "nope"}, "policy"),
        ({"tier": "x' OR '1'='1"}, "tier"),
        ({"severity": "sev 1"}, "severity"),
        ({"state": "sleeping"}, "state"),
        ({"breached": "maybe"}, "breached"),
        ({"due_before": "2025-11-20T09:00:00"}, "due_before"),
        ({"due_after": "tomorrow"}, "due_after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"order": "StartTime"}, "order"),
    ],
)
async def test_bad_filter_is_422(
    http: httpx.AsyncClient, gateway: FakeGateway, params: dict[str, str], field: str
) -> None:
    assert_error(await http.get("/v1/tickets", params=params, headers=AUTH), 422, field)
    assert gateway.queries == []


# -- policies ----------------------------------------------------------------------------------
async def test_policies_and_preview(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    listed = (await http.get("/v1/policies", headers=AUTH)).json()
    assert {p["id"] for p in listed} >= {"confluent-cloud", "kong", "kubeark"}
    one = await http.get("/v1/policies/confluent-cloud", headers=AUTH)
    assert one.status_code == 200 and one.json()["id"] == "confluent-cloud"
    assert_error(await http.get("/v1/policies/nope", headers=AUTH), 404, "policy_id")
    body = {
        "tier": "developer",
        "severity": "p1",
        "customer": {"timezone": "America/Chicago"},
        "opened_at": "2025-11-21T16:30:00-06:00",  # Friday 16:30 in Chicago
    }
    resp = await http.post("/v1/policies/confluent-cloud/preview", json=body, headers=AUTH)
    assert resp.status_code == 200, resp.text
    preview = resp.json()
    assert preview["severity"] == "p1"
    [first] = [c for c in preview["clocks"] if c["clock"] == "first_response"]
    assert first["business"] is True
    # 8 business hours from Fri 16:30: 30 min Friday + 7.5 h Monday -> Mon 16:30 local.
    assert datetime.fromisoformat(first["due_at"]) == datetime.fromisoformat(
        "2025-11-24T16:30:00-06:00"
    )
    bad = {**body, "severity": "sev9"}
    resp = await http.post("/v1/policies/confluent-cloud/preview", json=bad, headers=AUTH)
    assert_error(resp, 422, "severity")
    assert gateway.tickets == {}


# -- auth --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {ALL}"}],
)
async def test_missing_or_invalid_token_is_401(
    http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for resp in (
        await http.get("/v1/tickets/ZD-1", headers=headers),
        await http.post("/v1/tickets", json=BODY, headers=headers),
        await http.get("/v1/policies", headers=headers),
    ):
        assert_error(resp, 401, None, "Unauthorized")
        assert resp.headers["WWW-Authenticate"] == "Bearer"


async def test_wrong_scope_is_403(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    reader = {"Authorization": f"Bearer {READER}"}
    creator = {"Authorization": f"Bearer {CREATOR}"}
    assert_error(await http.post("/v1/tickets", json=BODY, headers=reader), 403, None, "Forbidden")
    assert (await http.post("/v1/tickets", json=BODY, headers=creator)).status_code == 201
    resp = await http.post("/v1/tickets/ZD-1001/close", json={"actor": "a"}, headers=creator)
    assert_error(resp, 403, None, "Forbidden")
    assert_error(await http.get("/v1/tickets/ZD-1001", headers=creator), 403, None)
    assert gateway.acts == []


async def test_health_needs_no_token(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/readyz")).json() == {"status": "ready"}


# -- failures ----------------------------------------------------------------------------------
async def test_temporal_unavailable_is_503(http: httpx.AsyncClient, gateway: FakeGateway) -> None:
    gateway.failure = TemporalUnavailable("UNAVAILABLE: connection refused")
    for resp in (
        await http.post("/v1/tickets", json=BODY, headers=AUTH),
        await http.get("/v1/tickets/ZD-1", headers=AUTH),
        await http.get("/v1/tickets", headers=AUTH),
        await http.get("/readyz"),
    ):
        assert_error(resp, 503, None, "TemporalUnavailable")
        assert resp.headers["Retry-After"]
    assert (await http.get("/healthz")).status_code == 200


async def test_unexpected_error_is_a_bare_500(
    http: httpx.AsyncClient, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    gateway.failure = RuntimeError("boom: internal detail")
    with caplog.at_level(logging.ERROR):
        resp = await http.get("/v1/tickets/ZD-1", headers=AUTH)
    assert resp.status_code == 500
    assert resp.json() == {
        "error": {"type": "InternalError", "message": "internal error", "field": None}
    }
    assert "boom" not in resp.text
    assert "boom: internal detail" in caplog.text  # logged server-side


async def test_no_token_in_logs(
    http: httpx.AsyncClient, gateway: FakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await http.post("/v1/tickets", json=BODY, headers=AUTH)
    await http.get("/v1/tickets/ZD-1001", headers={"Authorization": f"Bearer {READER}"})
    await http.post("/v1/tickets", json=BODY, headers={"Authorization": f"Bearer {READER}"})
    await http.get("/v1/tickets", headers={"Authorization": "Bearer not-a-real-token-42424242"})
    gateway.failure = RuntimeError("boom")
    await http.get("/v1/tickets/ZD-1001", headers={"Authorization": f"Bearer {CREATOR}"})
    await http.get("/v1/tickets/ZD-1001", headers=AUTH)
    assert caplog.records, "expected the auth and error paths to log something"
    for secret in (*TOKENS, "not-a-real-token-42424242"):
        assert secret not in caplog.text
    assert "reader" in caplog.text  # logs name the token, never its value


# -- the real gateway's translation, without a server ------------------------------------------
def test_temporal_errors_translate() -> None:
    failure = WorkflowUpdateFailedError(
        ApplicationError("next_update_eta: required", type="EtaRequired")
    )
    with pytest.raises(ActionRefused) as refused, _translated("K"):
        raise failure
    assert (refused.value.type, refused.value.field) == ("EtaRequired", "next_update_eta")
    with pytest.raises(TicketNotFound), _translated("K"):
        raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
    with pytest.raises(ActionRefused, match="ended"), _translated("K"):
        raise RPCError("workflow execution already completed", RPCStatusCode.NOT_FOUND, b"")
    for status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        with pytest.raises(TemporalUnavailable), _translated("K"):
            raise RPCError("down", status, b"")


async def test_client_is_created_lazily_retried_and_reused() -> None:
    calls = 0
    client = object()

    async def factory() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("cannot connect to Temporal at localhost:1")
        return client

    gateway = TemporalGateway(factory, task_queue="q")
    assert calls == 0
    with pytest.raises(TemporalUnavailable):
        await gateway.client()
    assert await gateway.client() is client
    assert await gateway.client() is client
    assert calls == 2


async def test_every_documented_error_is_json_with_the_error_body(http: httpx.AsyncClient) -> None:
    """Errors are JSON on every route, the HTML report's included; the spec must say so."""
    spec = (await http.get("/openapi.json")).json()
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if not status.startswith(("4", "5")):
                    continue
                content = response.get("content", {})
                assert list(content) == ["application/json"], (method, path, status)
                schema = content["application/json"]["schema"]
                assert schema["$ref"].rsplit("/", 1)[-1] == "ErrorBody", (method, path, status)
                checked += 1
    assert checked > 50


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/tickets", "GET, POST"),
        ("OPTIONS", "/v1/tickets", "GET, POST"),
        ("PUT", "/v1/tickets/ZD-1", "GET"),
        ("GET", "/v1/tickets/ZD-1/close", "POST"),
    ],
)
async def test_405_lists_every_method_the_path_serves(
    http: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    resp = await http.request(method, path, headers=AUTH)
    assert resp.status_code == 405, resp.text
    assert resp.headers["allow"] == allowed
    assert resp.json()["error"]["type"] == "MethodNotAllowed"


async def test_the_spec_documents_the_ticket_key_rule(http: httpx.AsyncClient) -> None:
    """Clients (and the fuzz drill) learn the key rule from the spec; it matches the check."""
    import re

    spec = (await http.get("/openapi.json")).json()
    path_key = spec["paths"]["/v1/tickets/{key}"]["get"]["parameters"][0]["schema"]
    body_key = spec["components"]["schemas"]["CreateTicket"]["properties"]["key"]
    for schema in (path_key, body_key):
        pattern = re.compile(schema["pattern"])
        assert pattern.search("ZD-48213") and pattern.search("a" * 128)
        assert not pattern.search("has space") and not pattern.search("a" * 129)
        assert not pattern.search("ok/../x") and not pattern.search("")
