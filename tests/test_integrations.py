"""Helpdesk integrations without Temporal: signatures, mapping files, what each event means, the
routes' refusals (404 / 401 / 422) and the write-back requests' shape and routing."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import jira as jira_out
from activities import metrics, routing
from activities import zendesk as zendesk_out
from activities.notify import Notifier
from api.app import create_app
from api.integrations import jira, signatures, zendesk
from api.integrations.apply import source_event_id
from api.integrations.mapping import HelpdeskMapping, MappingError, TicketFacts, load_mapping
from harness.receivers import WebhookReceiver
from plumbing.processes import free_port
from plumbing.settings import Settings, load_settings
from policies.catalog import Catalog, load_catalog
from ticketclock.worker import metrics_runtime
from workflows.messages import (
    EVENT_ID_MAX_CHARS,
    CustomerReply,
    DeliveryRequest,
    NotificationRequest,
)

ROOT = Path(__file__).resolve().parents[1]
ZD_EXAMPLE = ROOT / "docs" / "examples" / "zendesk-mapping.toml"
JIRA_EXAMPLE = ROOT / "docs" / "examples" / "jira-mapping.toml"
SECRET = "dGVzdC1zaWduaW5nLXNlY3JldA=="


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def zd_map(catalog: Catalog) -> HelpdeskMapping:
    return load_mapping(ZD_EXAMPLE, "zendesk", catalog)


@pytest.fixture(scope="module")
def jira_map(catalog: Catalog) -> HelpdeskMapping:
    return load_mapping(JIRA_EXAMPLE, "jira", catalog)


# -- signatures ----------------------------------------------------------------------------------
def test_zendesk_signature_is_the_documented_formula() -> None:
    """base64(HMAC-SHA256(secret, timestamp + body)), computed here independently."""
    ts, body = "2026-11-30T12:00:00Z", b'{"type":"zen:event-type:ticket.created"}'
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), ts.encode() + body, hashlib.sha256).digest()
    ).decode()
    assert signatures.zendesk_signature(SECRET, ts, body) == expected
    now = datetime(2026, 11, 30, 12, 1, tzinfo=UTC)
    signatures.check_zendesk(SECRET, expected, ts, body, now=now)


@pytest.mark.parametrize(
    ("signature", "timestamp", "offset", "says"),
    [
        (None, "2026-11-30T12:00:00Z", 0, "missing"),
        ("good", None, 0, "missing"),
        ("AAAA", "2026-11-30T12:00:00Z", 0, "does not match"),
        ("good", "2026-11-30T12:00:00Z", 301, "replay window"),
        ("good", "2026-11-30T12:00:00Z", -301, "replay window"),
    ],
)
def test_zendesk_refusals(
    signature: str | None, timestamp: str | None, offset: int, says: str
) -> None:
    body = b"{}"
    ts = timestamp or "2026-11-30T12:00:00Z"
    if signature == "good":
        signature = signatures.zendesk_signature(SECRET, ts, body)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC) + timedelta(seconds=offset)
    with pytest.raises(signatures.SignatureRefused, match=says):
        signatures.check_zendesk(SECRET, signature, timestamp, body, now=now)


def test_jira_signature_is_websub_sha256_hex() -> None:
    body = b'{"webhookEvent":"jira:issue_created"}'
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert signatures.jira_signature(SECRET, body) == expected
    signatures.check_jira(SECRET, expected, body)
    with pytest.raises(signatures.SignatureRefused, match="missing"):
        signatures.check_jira(SECRET, None, body)
    with pytest.raises(signatures.SignatureRefused, match="does not match"):
        signatures.check_jira(SECRET, expected, body + b" ")


@given(body=st.binary(max_size=200), flip=st.integers(min_value=0, max_value=199))
def test_any_changed_byte_breaks_both_signatures(body: bytes, flip: int) -> None:
    ts = "2026-11-30T12:00:00Z"
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    zsig, jsig = (
        signatures.zendesk_signature(SECRET, ts, body),
        signatures.jira_signature(SECRET, body),
    )
    signatures.check_zendesk(SECRET, zsig, ts, body, now=now)
    signatures.check_jira(SECRET, jsig, body)
    if not body:
        return
    i = flip % len(body)
    tampered = body[:i] + bytes([body[i] ^ 1]) + body[i + 1 :]
    with pytest.raises(signatures.SignatureRefused):
        signatures.check_zendesk(SECRET, zsig, ts, tampered, now=now)
    with pytest.raises(signatures.SignatureRefused):
        signatures.check_jira(SECRET, jsig, tampered)


# -- mapping files -------------------------------------------------------------------------------
def test_the_examples_map_priorities_case_insensitively(
    zd_map: HelpdeskMapping, jira_map: HelpdeskMapping
) -> None:
    for priority, severity in [("urgent", "sev1"), ("HIGH", "sev2"), ("Normal", "sev3")]:
        assert zd_map.severity_for(priority) == severity
    for priority, severity in [("Highest", "sev1"), ("high", "sev2"), ("MEDIUM", "sev3")]:
        assert jira_map.severity_for(priority) == severity
    assert zd_map.severity_for("low") == jira_map.severity_for("Low") == "sev4"
    terms = zd_map.terms_for(TicketFacts(priority=None))
    assert (terms.policy, terms.tier, terms.severity) == (
        "confluence-health-check",
        "standard",
        "sev3",  # no priority: the mapping's default severity
    )
    assert terms.customer.timezone == "UTC"
    assert zd_map.status_is("waiting_on_customer", "PENDING")
    assert jira_map.status_is("solved", "resolved")


BASE = """
[defaults]
policy = "confluence-health-check"
tier = "standard"
severity = "sev3"
timezone = "UTC"
"""


@pytest.mark.parametrize(
    ("extra", "field", "says"),
    [
        ('[priorities]\nurgent = "sev9"\n', "priorities.urgent", "sev9"),
        ('[priorities]\nurgent = "sev1"\nURGENT = "sev2"\n', "priorities.URGENT", "twice"),
        ("[agents]\nstaf = true\n", "agents.staf", "Extra inputs"),
        ('[agents]\nnext_update_eta = "soon"\n', "agents.next_update_eta", "duration"),
        ('[[rules]]\nwhen = { tag = "x" }\ntimezone = "Mars/Olympus"\n', "rules[0].timezone", ""),
        ('[[rules]]\nwhen = { project = "SUP" }\n', "rules[0].when.project", "not a zendesk"),
        ("[[rules]]\nwhen = {}\n", "rules[0].when", "no condition"),
        ('[[rules]]\nwhen = { tag = "vip" }\ntier = "gold"\n', "rules[0].tier", "gold"),
        (
            '[statuses]\nsolved = ["solved"]\nclosed = ["Solved"]\n',
            "statuses.closed",
            "also in statuses.solved",
        ),
    ],
)
def test_mapping_errors_name_the_file_and_the_field(
    tmp_path: Path, catalog: Catalog, extra: str, field: str, says: str
) -> None:
    path = tmp_path / "my-zendesk.toml"
    path.write_text(BASE + extra)
    with pytest.raises(MappingError) as caught:
        load_mapping(path, "zendesk", catalog)
    assert str(caught.value).startswith(f"my-zendesk.toml: {field}: "), str(caught.value)
    assert says in str(caught.value)


def test_a_bad_mapping_stops_the_api_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "zd.toml"
    path.write_text(BASE.replace("confluence-health-check", "no-such-policy"))
    settings = Settings(zendesk_webhook_secret=SECRET, zendesk_mapping=str(path))
    with pytest.raises(MappingError, match=r"^zd.toml: defaults.policy: "):
        create_app(settings)
    unset = Settings(jira_webhook_secret=SECRET)
    with pytest.raises(MappingError, match="TICKETCLOCK_JIRA_MAPPING"):
        create_app(unset)


def test_rules_pick_terms_first_match_wins(tmp_path: Path, catalog: Catalog) -> None:
    path = tmp_path / "jira.toml"
    path.write_text(
        BASE
        + '[[rules]]\nwhen = { project = "ops", request_type = "Outage" }\n'
        + 'timezone = "Europe/Berlin"\n'
        + '[[rules]]\nwhen = { field = { id = "customfield_1", value = "emea" } }\n'
        + 'timezone = "Asia/Tokyo"\nregion = "EMEA"\n'
    )
    m = load_mapping(path, "jira", catalog)
    outage = TicketFacts(project="OPS", request_type="outage")
    assert m.terms_for(outage).customer.timezone == "Europe/Berlin"
    by_field = m.terms_for(TicketFacts(project="SUP", fields={"customfield_1": "EMEA"}))
    assert (by_field.customer.timezone, by_field.customer.region) == ("Asia/Tokyo", "EMEA")
    assert m.terms_for(TicketFacts(project="OPS")).customer.timezone == "UTC"


# -- what events mean ----------------------------------------------------------------------------
def zd(kind: str, event: dict[str, Any] | None = None, **detail: Any) -> zendesk.ZendeskEvent:
    return zendesk.ZendeskEvent.model_validate(
        {
            "type": f"zen:event-type:ticket.{kind}",
            "id": "ev-1",
            "subject": "zen:ticket:42",
            "detail": {"id": "42", "requester_id": "7", **detail},
            "event": event or {},
        }
    )


def test_zendesk_events_become_actions(zd_map: HelpdeskMapping) -> None:
    def kinds(event: zendesk.ZendeskEvent) -> list[str]:
        return [s.kind for s in zendesk.plan(event, zd_map).steps]

    staff = {"comment": {"is_public": True, "author": {"id": 9, "is_staff": True}}}
    requester = {"comment": {"is_public": True, "author": {"id": "7", "is_staff": False}}}
    private = {"comment": {"is_public": False, "author": {"id": 9, "is_staff": True}}}
    assert zendesk.plan(zd("created", priority="HIGH"), zd_map).create
    assert zendesk.plan(zd("created"), zd_map).key == "ZD-42"
    assert kinds(zd("comment_added", staff)) == ["respond"]
    assert kinds(zd("comment_added", requester)) == ["customer_reply"]
    assert zendesk.plan(zd("comment_added", private), zd_map).ignored
    assert kinds(zd("status_changed", {"previous": "OPEN", "current": "PENDING"})) == [
        "request_customer_info"
    ]
    assert kinds(zd("status_changed", {"previous": "open", "current": "Solved"})) == ["resolve"]
    assert kinds(zd("status_changed", {"previous": "SOLVED", "current": "OPEN"})) == ["reopen"]
    assert kinds(zd("status_changed", {"previous": "solved", "current": "closed"})) == ["close"]
    # A customer's reply moves a pending ticket back to open: the comment already says so.
    assert zendesk.plan(zd("status_changed", {"previous": "pending", "current": "open"}), zd_map)
    raised = zendesk.plan(
        zd("priority_changed", {"previous": "NORMAL", "current": "URGENT"}), zd_map
    )
    assert [(s.kind, s.severity) for s in raised.steps] == [("change_severity", "sev1")]
    assert zendesk.plan(zd("tags_changed", {"current": ["x"]}), zd_map).ignored


def test_a_ticket_s_description_is_no_response(zd_map: HelpdeskMapping) -> None:
    """A ticket an agent opens for a caller: its description arrives as a staff comment_added in
    the same action as ticket.created, and must not meet the first response."""
    created = "2026-11-30T09:00:00Z"
    staff = {"comment": {"is_public": True, "author": {"id": 9, "is_staff": True}}}
    description = zd("comment_added", staff, created_at=created).model_copy(
        update={"time": datetime(2026, 11, 30, 9, 0, 0, 900000, tzinfo=UTC)}
    )
    assert zendesk.plan(description, zd_map).steps == ()
    later = description.model_copy(update={"time": datetime(2026, 11, 30, 9, 5, tzinfo=UTC)})
    assert [s.kind for s in zendesk.plan(later, zd_map).steps] == ["respond"]


def test_zendesk_shape_errors_name_the_field(zd_map: HelpdeskMapping) -> None:
    with pytest.raises(zendesk.ShapeError, match="^event.comment:"):
        zendesk.plan(zd("comment_added"), zd_map)
    with pytest.raises(zendesk.ShapeError, match="^subject:"):
        zendesk.plan(
            zendesk.ZendeskEvent.model_validate(
                {
                    "type": "zen:event-type:ticket.created",
                    "id": "e",
                    "subject": "zen:ticket:1",
                    "detail": {"id": "2"},
                }
            ),
            zd_map,
        )


def jira_event(kind: str, **extra: Any) -> jira.JiraEvent:
    fields = {
        "summary": "Wiki down",
        "created": "2026-11-30T10:00:00.000+0000",
        "priority": {"name": "Medium"},
        "project": {"key": "SUP"},
        "reporter": {"accountId": "cust-1", "accountType": "customer"},
        "customfield_10010": {"requestType": {"name": "Report a system problem"}},
    }
    return jira.JiraEvent.model_validate(
        {"webhookEvent": kind, "issue": {"key": "SUP-7", "fields": fields}, **extra}
    )


def test_jira_events_become_actions(jira_map: HelpdeskMapping) -> None:
    def plan(event: jira.JiraEvent) -> Any:
        return jira.plan(event, "delivery-1", jira_map)

    created = plan(jira_event("jira:issue_created"))
    assert created.create and created.key == "SUP-7"
    assert created.facts.request_type == "Report a system problem"
    assert created.opened_at == datetime(2026, 11, 30, 10, tzinfo=UTC)
    agent = {"author": {"accountId": "agent-1", "accountType": "atlassian"}, "jsdPublic": True}
    internal = {**agent, "jsdPublic": False}
    customer = {"author": {"accountId": "cust-1", "accountType": "customer"}, "jsdPublic": True}
    assert [s.kind for s in plan(jira_event("comment_created", comment=agent)).steps] == ["respond"]
    assert [s.kind for s in plan(jira_event("comment_created", comment=customer)).steps] == [
        "customer_reply"
    ]
    assert plan(jira_event("comment_created", comment=internal)).ignored
    both = {
        "items": [
            {"field": "status", "fromString": "Resolved", "toString": "Waiting for support"},
            {"field": "priority", "fromString": "Medium", "toString": "HIGHEST"},
            {"field": "assignee", "fromString": None, "toString": "Jane"},
        ]
    }
    steps = plan(jira_event("jira:issue_updated", changelog=both)).steps
    assert [(s.kind, s.severity) for s in steps] == [("reopen", None), ("change_severity", "sev1")]


# -- the routes' refusals (no Temporal needed: they answer before any ticket is touched) -----------
def _zd_settings(**kw: Any) -> Settings:
    return Settings(zendesk_webhook_secret=SECRET, zendesk_mapping=str(ZD_EXAMPLE), **kw)


async def _post(settings: Settings, path: str, body: bytes, headers: dict[str, str]) -> Any:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        return await http.post(path, content=body, headers=headers)


async def test_an_unset_secret_is_404() -> None:
    resp = await _post(Settings(), "/v1/integrations/zendesk", b"{}", {})
    assert resp.status_code == 404, resp.text
    resp = await _post(Settings(), "/v1/integrations/jira", b"{}", {})
    assert resp.status_code == 404, resp.text


async def test_wrong_stale_or_missing_signatures_are_401() -> None:
    body = json.dumps({"type": "zen:event-type:ticket.created"}).encode()
    now = datetime.now(UTC)
    stale = (now - timedelta(minutes=6)).isoformat()
    fresh = now.isoformat()
    cases = [
        {},
        {signatures.ZENDESK_TIMESTAMP: fresh, signatures.ZENDESK_SIGNATURE: "bm9wZQ=="},
        {
            signatures.ZENDESK_TIMESTAMP: stale,
            signatures.ZENDESK_SIGNATURE: signatures.zendesk_signature(SECRET, stale, body),
        },
    ]
    for headers in cases:
        resp = await _post(_zd_settings(), "/v1/integrations/zendesk", body, headers)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.json()["error"]["type"] == "Unauthorized"


async def test_an_undocumented_shape_is_422_naming_the_field() -> None:
    body = json.dumps({"type": "zen:event-type:ticket.created", "id": "e1", "detail": {}}).encode()
    ts = datetime.now(UTC).isoformat()
    headers = {
        signatures.ZENDESK_TIMESTAMP: ts,
        signatures.ZENDESK_SIGNATURE: signatures.zendesk_signature(SECRET, ts, body),
    }
    resp = await _post(_zd_settings(), "/v1/integrations/zendesk", body, headers)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == "detail.id"

    settings = Settings(jira_webhook_secret=SECRET, jira_mapping=str(JIRA_EXAMPLE))
    jbody = json.dumps({"webhookEvent": "jira:issue_created", "issue": {"key": "sup 1"}}).encode()
    jheaders = {
        signatures.JIRA_SIGNATURE: signatures.jira_signature(SECRET, jbody),
        signatures.JIRA_IDENTIFIER: "d-1",
    }
    resp = await _post(settings, "/v1/integrations/jira", jbody, jheaders)
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["field"] == "issue.key"
    del jheaders[signatures.JIRA_IDENTIFIER]
    resp = await _post(settings, "/v1/integrations/jira", jbody, jheaders)
    assert resp.status_code == 422
    assert resp.json()["error"]["field"] == signatures.JIRA_IDENTIFIER


# -- write-back requests ------------------------------------------------------------------------
def note(key: str, event: str = "breach", clock: str = "first_response") -> NotificationRequest:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    return NotificationRequest(
        workflow_id=f"ticket-{key}",
        ticket_key=key,
        policy="confluence-health-check",
        tier="standard",
        severity="sev2",
        severity_label="Sev2",
        clock=clock,
        cycle=1,
        event=event,
        due_at=now,
        due_local=now.isoformat(),
        due_text="Mon 30 Nov 12:00 UTC",
        idempotency_key=f"ticket-{key}:{clock}:1:{event}",
        occurred_at=now,
    )


WRITE_BACK = {
    "TICKETCLOCK_ZENDESK_URL": "https://acme.zendesk.com",
    "TICKETCLOCK_ZENDESK_EMAIL": "bot@acme.test",
    "TICKETCLOCK_ZENDESK_API_TOKEN": "zd-token",
    "TICKETCLOCK_JIRA_URL": "https://acme.atlassian.net",
    "TICKETCLOCK_JIRA_EMAIL": "bot@acme.test",
    "TICKETCLOCK_JIRA_API_TOKEN": "jira-token",
}


def test_write_back_goes_to_the_ticket_s_own_helpdesk_on_warnings_and_breaches() -> None:
    settings = load_settings(WRITE_BACK)
    assert routing.destinations_for(settings, note("ZD-42")) == ["zendesk"]
    assert routing.destinations_for(settings, note("SUP-7", "warning")) == ["jira"]
    assert routing.destinations_for(settings, note("SUP-7", "met")) == []
    assert routing.destinations_for(settings, note("my-ticket")) == []
    only_ops = load_settings({**WRITE_BACK, "TICKETCLOCK_JIRA_PROJECTS": "OPS"})
    assert routing.destinations_for(only_ops, note("SUP-7")) == []
    assert routing.destinations_for(only_ops, note("OPS-1")) == ["jira"]
    assert routing.destinations_for(load_settings({}), note("ZD-42")) == []


def test_zendesk_write_back_is_a_private_comment_with_additional_tags() -> None:
    settings = load_settings(WRITE_BACK)
    method, url, body, headers = zendesk_out.write_back(settings, note("ZD-42"))
    assert (method, url) == ("PUT", "https://acme.zendesk.com/api/v2/tickets/42")
    ticket = json.loads(body)["ticket"]
    assert ticket["comment"]["public"] is False
    assert "SLA breached" in ticket["comment"]["body"]
    assert ticket["additional_tags"] == ["sla_breached_first_response"]
    assert "tags" not in ticket  # would replace the ticket's own tags
    user, token = base64.b64decode(headers["Authorization"].split()[1]).decode().split(":")
    assert (user, token) == ("bot@acme.test/token", "zd-token")
    assert headers["Idempotency-Key"] == "ticket-ZD-42:first_response:1:breach"


def test_jira_write_back_is_a_label_then_an_internal_comment() -> None:
    settings = load_settings(WRITE_BACK)
    (m1, u1, b1, _), (m2, u2, b2, h2) = jira_out.write_back(settings, note("SUP-7", "warning"))
    assert (m1, u1) == ("PUT", "https://acme.atlassian.net/rest/api/3/issue/SUP-7")
    assert json.loads(b1) == {"update": {"labels": [{"add": "sla_warning_first_response"}]}}
    assert (m2, u2) == (
        "POST",
        "https://acme.atlassian.net/rest/servicedeskapi/request/SUP-7/comment",
    )
    assert json.loads(b2)["public"] is False
    assert base64.b64decode(h2["Authorization"].split()[1]).decode() == "bot@acme.test:jira-token"


def test_secrets_of_the_integrations_are_never_in_repr() -> None:
    settings = load_settings(
        {
            **WRITE_BACK,
            "TICKETCLOCK_ZENDESK_WEBHOOK_SECRET": "zd-hook-secret",
            "TICKETCLOCK_JIRA_WEBHOOK_SECRET": "jira-hook-secret",
        }
    )
    text = repr(settings)
    for secret in ("zd-token", "jira-token", "zd-hook-secret", "jira-hook-secret"):
        assert secret not in text


# -- write-back through the delivery activity, counted -------------------------------------------
async def _written_back(runtime_port: int, destination: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{runtime_port}/metrics", timeout=5)).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(metrics.WRITTEN_BACK) and f'destination="{destination}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_delivered_write_backs_are_counted_rejected_ones_are_final() -> None:
    port = free_port()
    runtime = metrics_runtime(Settings(metrics_port=port))
    assert runtime is not None
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    async with WebhookReceiver(path="") as helpdesk:
        settings = load_settings(
            {
                **WRITE_BACK,
                "TICKETCLOCK_ZENDESK_URL": helpdesk.url,
                "TICKETCLOCK_JIRA_URL": helpdesk.url,
            }
        )
        notifier = Notifier(settings)
        try:
            result = await env.run(
                notifier.deliver, DeliveryRequest(destination="zendesk", notification=note("ZD-42"))
            )
            assert (result.outcome, result.status) == ("delivered", 200)
            assert [(r.method, r.path) for r in helpdesk.requests] == [
                ("PUT", "/api/v2/tickets/42")
            ]
            helpdesk.respond_with(204, 201, body=b"")
            result = await env.run(
                notifier.deliver, DeliveryRequest(destination="jira", notification=note("SUP-7"))
            )
            assert (result.outcome, result.status) == ("delivered", 201)
            assert [(r.method, r.path) for r in helpdesk.requests[1:]] == [
                ("PUT", "/rest/api/3/issue/SUP-7"),
                ("POST", "/rest/servicedeskapi/request/SUP-7/comment"),
            ]
            helpdesk.respond_with(404)
            with pytest.raises(ApplicationError) as caught:
                await env.run(
                    notifier.deliver,
                    DeliveryRequest(destination="zendesk", notification=note("ZD-43")),
                )
            assert caught.value.non_retryable  # a deleted ticket stays deleted
        finally:
            await notifier.aclose()
    assert await _written_back(port, "zendesk") == 1
    assert await _written_back(port, "jira") == 1


def test_a_documented_shape_with_extra_fields_is_accepted(zd_map: HelpdeskMapping) -> None:
    """As Zendesk's event webhooks send it: ids as strings or numbers, capitals, nanosecond
    times, fields we do not read."""
    payload = {
        "account_id": 22129848,
        "detail": {
            "id": "5158",
            "subject": "Cannot login to mobile app",
            "status": "OPEN",
            "priority": "HIGH",
            "created_at": "2025-01-08T10:12:07Z",
            "updated_at": "2025-01-08T14:25:30Z",
            "custom_status": "123",
            "is_public": True,
        },
        "event": {
            "comment": {
                "id": 9876543210,
                "body": "We are investigating this issue and will update you shortly.",
                "is_public": True,
                "author": {"id": 8447388090495, "is_staff": True, "name": "Support Agent"},
            }
        },
        "id": "d4f5c389-8f4a-4c2e-a1b9-8e4f39c71d52",
        "subject": "zen:ticket:5158",
        "time": "2025-01-08T14:25:30.123456789Z",
        "type": "zen:event-type:ticket.comment_added",
        "zendesk_event_version": "2022-11-06",
    }
    plan = zendesk.plan(zendesk.ZendeskEvent.model_validate(payload), zd_map)
    assert (plan.key, [s.kind for s in plan.steps]) == ("ZD-5158", ["respond"])
    assert plan.steps[0].actor == "zendesk:8447388090495"
    assert zd_map.terms_for(plan.facts).severity == "sev2"


def test_each_action_of_an_event_carries_a_bounded_source_event_id(
    zd_map: HelpdeskMapping,
) -> None:
    """Issue 15: the id the ticket remembers (and the Update id) names the helpdesk, the event
    and the action's place in it; an id too long for `Action.event_id` is hashed, not cut (a cut
    could make two events one)."""
    reply = {"comment": {"is_public": True, "author": {"id": "7", "is_staff": False}}}
    plan = zendesk.plan(zd("comment_added", reply), zd_map)
    assert source_event_id(plan, 0) == f"zendesk:{plan.event_id}"
    assert source_event_id(plan, 2) == f"zendesk:{plan.event_id}:2"
    # Today's ids fit (both routes take at most 200 characters); a longer one is hashed.
    longest = dataclasses.replace(plan, event_id="a" * 200)
    assert source_event_id(longest, 20) == f"zendesk:{'a' * 200}:20"
    longs = [dataclasses.replace(plan, event_id="a" * 300 + tail) for tail in "12"]
    ids = {source_event_id(p, i) for p in longs for i in (0, 1, 20)}
    assert len(ids) == 6
    for event_id in ids:
        assert len(event_id) <= EVENT_ID_MAX_CHARS
        assert CustomerReply(actor="c", event_id=event_id).event_id == event_id
