"""Notification activities against real receivers: an HTTP server and an SMTP server on 127.0.0.1.

Activities run through `ActivityEnvironment` (a real activity context); nothing is mocked.
"""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import routing
from activities.notify import (
    DELIVERY_FAILED,
    DELIVERY_REJECTED,
    NO_SUCH_DESTINATION,
    Notifier,
    verify_signature,
    webhook_payload,
)
from activities.webhook import encode_body
from harness.receivers import SmtpReceiver, WebhookReceiver
from plumbing.processes import free_port
from plumbing.settings import Settings
from workflows.messages import DeliveryRequest, DeliveryResult, NotificationRequest

SECRET = "s3cret-webhook-signing-key"
WID = "ticket-ACME-1"


def note(event: str = "warning", **changes: Any) -> NotificationRequest:
    values: dict[str, Any] = {
        "workflow_id": WID,
        "ticket_key": "ACME-1",
        "policy": "acme",
        "tier": "gold",
        "severity": "sev2",
        "severity_label": "P2",
        "clock": "first_response",
        "cycle": 1,
        "event": event,
        "due_at": datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
        "due_local": "2026-11-23T09:00:00-06:00",
        "idempotency_key": f"{WID}:first_response:1:{event}",
        "occurred_at": datetime(2026, 11, 23, 13, 30, 0, 250000, tzinfo=UTC),
        "detail": "75% elapsed" if event == "warning" else None,
        "subject": "Checkout fails — «café» for EU customers",
    }
    values.update(changes)
    return NotificationRequest(**values)


async def deliver(notifier: Notifier, destination: str, req: NotificationRequest) -> DeliveryResult:
    return await ActivityEnvironment().run(
        notifier.deliver, DeliveryRequest(destination=destination, notification=req)
    )


async def failure(
    notifier: Notifier, destination: str, req: NotificationRequest
) -> ApplicationError:
    with pytest.raises(ApplicationError) as info:
        await deliver(notifier, destination, req)
    return info.value


@pytest.fixture
async def make_notifier() -> AsyncIterator[Callable[..., Notifier]]:
    made: list[Notifier] = []

    def make(**settings: Any) -> Notifier:
        settings.setdefault("notify_timeout_s", 2.0)
        notifier = Notifier(Settings(**settings))
        made.append(notifier)
        return notifier

    yield make
    for notifier in made:
        await notifier.aclose()


@pytest.fixture
async def hook() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
async def smtp() -> AsyncIterator[SmtpReceiver]:
    async with SmtpReceiver() as receiver:
        yield receiver


# -- routing -------------------------------------------------------------------------------------
FULL = Settings(
    webhook_url="https://hooks.example.com/ticketclock?token=abc",
    webhook_secret=SECRET,
    slack_webhook_url="https://hooks.slack.com/services/T0/B0/assignee",
    slack_escalation_webhook_url="https://hooks.slack.com/services/T0/B1/escalation",
    smtp_host="smtp.example.com",
    email_assignee_to=("agents@example.com",),
    email_escalation_to=("leads@example.com",),
    email_oncall_to=("oncall@example.com",),
)
W, S, SE = routing.WEBHOOK, routing.SLACK, routing.SLACK_ESCALATION
EA, EE, EO = routing.EMAIL_ASSIGNEE, routing.EMAIL_ESCALATION, routing.EMAIL_ONCALL


def _without(settings: Settings, **changes: Any) -> Settings:
    return Settings(**{**settings.__dict__, **changes})


@pytest.mark.parametrize(
    ("settings", "event", "page_oncall", "expected"),
    [
        (FULL, "warning", False, [W, S, EA]),
        (FULL, "warning", True, [W, S, EA, EO]),
        (FULL, "reminder", False, [W, S, EA]),
        (FULL, "reminder", True, [W, S, EA]),
        (FULL, "breach", False, [W, SE, EE]),
        (FULL, "breach", True, [W, SE, EE, EO]),
        (FULL, "auto_close", True, [W, SE, EE]),
        (FULL, "escalation", False, [W, SE, EE]),
        (FULL, "page", True, [W, EO]),
        (FULL, "page", False, [W]),
        (FULL, "met", True, [W]),
        (FULL, "something_new", True, [W]),
        (Settings(), "breach", True, []),
        (Settings(webhook_url="http://x/hook"), "warning", True, [W]),
        # no escalation channel: breaches fall back to the assignee Slack channel
        (_without(FULL, slack_escalation_webhook_url=None), "breach", False, [W, S, EE]),
        (_without(FULL, webhook_url=None), "met", False, []),
        (_without(FULL, webhook_url=None, slack_webhook_url=None), "warning", False, [EA]),
        (_without(FULL, slack_webhook_url=None), "breach", False, [W, SE, EE]),
        (_without(FULL, email_escalation_to=()), "escalation", False, [W, SE]),
        (_without(FULL, email_oncall_to=()), "breach", True, [W, SE, EE]),
        # addresses without an SMTP host are not a destination
        (_without(FULL, smtp_host=None), "breach", True, [W, SE]),
    ],
)
async def test_routing_rules(
    settings: Settings, event: str, page_oncall: bool, expected: list[str]
) -> None:
    notifier = Notifier(settings)
    names = await ActivityEnvironment().run(notifier.route, note(event, page_oncall=page_oncall))
    assert names == expected
    assert len(names) == len(set(names))
    for name in names:
        assert name in routing.DESTINATIONS
        assert "://" not in name and "@" not in name


async def test_route_never_leaks_configuration() -> None:
    for event in routing.EVENTS:
        names = await ActivityEnvironment().run(Notifier(FULL).route, note(event, page_oncall=True))
        text = json.dumps(names)
        for secret in (FULL.webhook_url, FULL.slack_webhook_url, SECRET, "example.com"):
            assert secret and secret not in text


# -- webhook -------------------------------------------------------------------------------------
REQUIRED = {
    "ticket_key",
    "policy",
    "tier",
    "severity",
    "severity_label",
    "clock",
    "cycle",
    "event",
    "due_at",
    "due_local",
    "idempotency_key",
    "occurred_at",
    "workflow_id",
    "subject",
    "detail",
}


async def test_webhook_delivery_is_signed_and_keyed(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    notifier = make_notifier(webhook_url=hook.url, webhook_secret=SECRET)
    req = note("breach", page_oncall=True)
    result = await deliver(notifier, "webhook", req)
    assert result == DeliveryResult(
        destination="webhook", outcome="delivered", status=200, detail="HTTP 200"
    )

    [got] = hook.requests
    assert (got.method, got.path) == ("POST", "/hook")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["idempotency-key"] == req.idempotency_key == f"{WID}:first_response:1:breach"
    assert got.headers["user-agent"].startswith("ticketclock/")
    signature = got.headers["x-ticketclock-signature"]
    assert signature.startswith("sha256=")
    assert verify_signature(SECRET, got.body, signature)
    assert not verify_signature("another-secret", got.body, signature)
    assert not verify_signature(SECRET, got.body + b" ", signature)
    assert not verify_signature(SECRET, got.body, "")

    # compact, sorted, UTF-8 (not \u-escaped) JSON: exactly the bytes that were signed
    payload = got.json()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert got.body == canonical.encode("utf-8") == encode_body(webhook_payload(req))
    assert "«café»".encode() in got.body

    assert payload.keys() >= REQUIRED
    assert payload["event"] == "breach"
    assert payload["cycle"] == 1
    assert payload["page_oncall"] is True
    assert payload["due_at"] == "2026-11-23T15:00:00Z"
    assert payload["due_local"] == "2026-11-23T09:00:00-06:00"
    assert datetime.fromisoformat(payload["due_local"]).utcoffset() == timedelta(hours=-6)
    assert payload["occurred_at"] == "2026-11-23T13:30:00.250000Z"
    assert payload["idempotency_key"] == req.idempotency_key


async def test_webhook_payload_normalises_times_to_utc() -> None:
    chicago = datetime.fromisoformat("2026-11-23T09:00:00-06:00")
    payload = webhook_payload(note(due_at=chicago, due_local=chicago.isoformat()))
    assert payload["due_at"] == "2026-11-23T15:00:00Z"
    assert payload["due_local"] == "2026-11-23T09:00:00-06:00"
    assert webhook_payload(note("met", due_at=None, due_local=None))["due_at"] is None


async def test_webhook_without_secret_is_unsigned(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    notifier = make_notifier(webhook_url=hook.url)
    await deliver(notifier, "webhook", note())
    await deliver(notifier, "webhook", note("met"))
    assert [r.json()["event"] for r in hook.requests] == ["warning", "met"]
    assert all("x-ticketclock-signature" not in r.headers for r in hook.requests)


async def test_one_client_per_notifier(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    notifier = make_notifier(webhook_url=hook.url)
    await deliver(notifier, "webhook", note())
    client = notifier.client
    await deliver(notifier, "webhook", note())
    assert notifier.client is client
    await notifier.aclose()
    assert client.is_closed
    await deliver(notifier, "webhook", note())  # a fresh client after aclose
    assert len(hook.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422, 301])
async def test_client_errors_are_rejected_for_good(
    status: int, hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    hook.respond_with(status, body=b"no such hook")
    notifier = make_notifier(webhook_url=hook.url, webhook_secret=SECRET)
    err = await failure(notifier, "webhook", note())
    assert err.type == DELIVERY_REJECTED
    assert err.non_retryable
    assert f"HTTP {status}" in err.message and "no such hook" in err.message
    assert hook.url not in err.message and SECRET not in err.message
    assert len(hook.requests) == 1  # the HTTP client never retries by itself


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_transient_statuses_are_retryable(
    status: int, hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    hook.respond_with(status)
    notifier = make_notifier(webhook_url=hook.url)
    err = await failure(notifier, "webhook", note())
    assert err.type == DELIVERY_FAILED
    assert not err.non_retryable
    assert len(hook.requests) == 1


async def test_retry_after_is_honoured_within_bounds(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    notifier = make_notifier(webhook_url=hook.url)
    hook.respond_with(429, headers={"Retry-After": "7"})
    assert (await failure(notifier, "webhook", note())).next_retry_delay == timedelta(seconds=7)
    hook.respond_with(503, headers={"Retry-After": "86400"})
    assert (await failure(notifier, "webhook", note())).next_retry_delay == timedelta(minutes=5)
    hook.respond_with(500)
    assert (await failure(notifier, "webhook", note())).next_retry_delay is None


async def test_a_retry_after_failure_is_the_same_request(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    hook.respond_with(500, 200)
    notifier = make_notifier(webhook_url=hook.url, webhook_secret=SECRET)
    req = note()
    await failure(notifier, "webhook", req)
    assert (await deliver(notifier, "webhook", req)).outcome == "delivered"
    first, second = hook.requests
    assert first.body == second.body
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert first.headers["x-ticketclock-signature"] == second.headers["x-ticketclock-signature"]


async def test_connection_refused_is_retryable(make_notifier: Callable[..., Notifier]) -> None:
    url = f"http://127.0.0.1:{free_port()}/hook?token=secret-in-url"
    err = await failure(make_notifier(webhook_url=url), "webhook", note())
    assert err.type == DELIVERY_FAILED and not err.non_retryable
    assert "secret-in-url" not in err.message and "127.0.0.1" not in err.message


async def test_timeout_is_retryable(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    hook.respond_with(200, delay=1.0)
    err = await failure(
        make_notifier(webhook_url=hook.url, notify_timeout_s=0.2), "webhook", note()
    )
    assert err.type == DELIVERY_FAILED and not err.non_retryable
    assert "timed out" in err.message


async def test_bad_url_scheme_is_rejected(make_notifier: Callable[..., Notifier]) -> None:
    err = await failure(make_notifier(webhook_url="ftp://example.com/x"), "webhook", note())
    assert err.type == DELIVERY_REJECTED and err.non_retryable
    assert "example.com" not in err.message


@pytest.mark.parametrize(
    ("destination", "settings"),
    [
        ("pager", {"webhook_url": "http://127.0.0.1:9/x"}),
        ("webhook", {}),
        ("slack:escalation", {"slack_webhook_url": "http://127.0.0.1:9/x"}),
        ("slack", {"slack_escalation_webhook_url": "http://127.0.0.1:9/x"}),
        ("email:assignee", {"email_assignee_to": ("a@example.com",)}),  # no SMTP host
        ("email:oncall", {"smtp_host": "127.0.0.1", "email_assignee_to": ("a@example.com",)}),
    ],
)
async def test_unknown_or_vanished_destination(
    destination: str, settings: dict[str, Any], make_notifier: Callable[..., Notifier]
) -> None:
    err = await failure(make_notifier(**settings), destination, note())
    assert err.type == NO_SUCH_DESTINATION and err.non_retryable
    assert "127.0.0.1" not in err.message


async def test_httpx_request_log_hides_webhook_paths(
    hook: WebhookReceiver,
    make_notifier: Callable[..., Notifier],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hook.path = "/services/T000/B000/XoXoSeCrEt"
    notifier = make_notifier(slack_webhook_url=hook.url)
    with caplog.at_level(logging.DEBUG):
        await deliver(notifier, "slack", note())
    assert "HTTP Request" in caplog.text
    assert "XoXoSeCrEt" not in caplog.text


# -- Slack ---------------------------------------------------------------------------------------
async def test_slack_message_shape(make_notifier: Callable[..., Notifier]) -> None:
    async with WebhookReceiver("/assignee") as assignee, WebhookReceiver("/escalation") as esc:
        notifier = make_notifier(
            slack_webhook_url=assignee.url, slack_escalation_webhook_url=esc.url
        )
        result = await deliver(notifier, "slack", note())
        assert (result.destination, result.outcome, result.status) == ("slack", "delivered", 200)
        await deliver(notifier, "slack:escalation", note("breach"))

        [got] = assignee.requests
        assert got.headers["content-type"].startswith("application/json")
        assert "x-ticketclock-signature" not in got.headers
        body = got.json()
        assert set(body) == {"text", "blocks"}
        assert body["text"] == (
            "⚠ first_response for ACME-1 (P2) due Mon 23 Nov 09:00 UTC-06:00 — 75% elapsed"
        )
        assert body["blocks"][0] == {
            "type": "section",
            "text": {"type": "mrkdwn", "text": body["text"]},
        }
        assert all(block["type"] in ("section", "context") for block in body["blocks"])
        assert WID in json.dumps(body)

        [escalated] = esc.requests
        assert escalated.json()["text"].startswith(
            "🚨 BREACH first_response for ACME-1 (P2) was due"
        )


async def test_slack_text_is_escaped(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    await deliver(
        make_notifier(slack_webhook_url=hook.url),
        "slack",
        note("escalation", detail="<!channel> ping & <http://evil|click>"),
    )
    text = hook.requests[0].json()["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt; ping &amp; &lt;http" in text


async def test_slack_rejection_and_outage(
    hook: WebhookReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    notifier = make_notifier(slack_webhook_url=hook.url)
    hook.respond_with(404, body=b"channel_not_found")
    err = await failure(notifier, "slack", note())
    assert (err.type, err.non_retryable) == (DELIVERY_REJECTED, True)
    assert "channel_not_found" in err.message and hook.url not in err.message
    hook.respond_with(503)
    assert (await failure(notifier, "slack", note())).type == DELIVERY_FAILED


# -- email ---------------------------------------------------------------------------------------
def _mail_settings(smtp: SmtpReceiver, **changes: Any) -> dict[str, Any]:
    return {
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "email_from": "SLA bot <sla@ticketclock.example>",
        "email_assignee_to": ("agent@example.com",),
        "email_escalation_to": ("lead@example.com", "manager@example.com"),
        "email_oncall_to": ("oncall@example.com",),
        **changes,
    }


async def test_email_delivery(smtp: SmtpReceiver, make_notifier: Callable[..., Notifier]) -> None:
    notifier = make_notifier(**_mail_settings(smtp))
    req = note("breach", severity="sev1", severity_label="Sev1")
    result = await deliver(notifier, "email:escalation", req)
    assert (result.destination, result.outcome, result.status) == (
        "email:escalation",
        "delivered",
        250,
    )

    [mail] = smtp.mails
    msg = mail.message
    assert msg["Subject"] == "[ticketclock] BREACH first_response ACME-1 (Sev1)"
    assert msg["To"] == "lead@example.com, manager@example.com"
    assert msg["From"] == "SLA bot <sla@ticketclock.example>"
    assert mail.mail_from == "sla@ticketclock.example"
    assert sorted(mail.rcpt_tos) == ["lead@example.com", "manager@example.com"]
    assert msg["X-Ticketclock-Idempotency-Key"] == req.idempotency_key
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@ticketclock.example>")
    text = msg.get_content()
    for fact in (
        "ACME-1",
        "«café»",
        "first_response (cycle 1)",
        "Sev1 (sev1)",
        "acme, tier gold",
        "2026-11-23T15:00:00Z",
        "2026-11-23T09:00:00-06:00",
        WID,
        req.idempotency_key,
    ):
        assert fact in text


async def test_email_message_id_is_stable_per_key(
    smtp: SmtpReceiver, make_notifier: Callable[..., Notifier]
) -> None:
    notifier = make_notifier(**_mail_settings(smtp))
    req = note("warning", page_oncall=True)
    await deliver(notifier, "email:assignee", req)
    await deliver(notifier, "email:assignee", req)  # a retried send
    await deliver(notifier, "email:oncall", req)
    await deliver(
        notifier, "email:assignee", note(idempotency_key=f"{WID}:first_response:1:warning:2")
    )
    first, retried, oncall, other = (m.message for m in smtp.mails)
    assert first["Message-ID"] == retried["Message-ID"]
    assert first["Date"] == retried["Date"]
    assert first.get_content() == retried.get_content()
    assert oncall["Message-ID"] != first["Message-ID"]
    assert other["Message-ID"] != first["Message-ID"]
    assert first["Subject"] == "[ticketclock] WARNING first_response ACME-1 (P2)"
    assert oncall["To"] == "oncall@example.com"


@pytest.mark.parametrize(
    ("data_reply", "rcpt_reply", "kind", "non_retryable"),
    [
        ("554 5.7.1 message refused", "250 OK", DELIVERY_REJECTED, True),
        ("451 4.3.0 try again later", "250 OK", DELIVERY_FAILED, False),
        ("250 OK", "550 5.1.1 no such user", DELIVERY_REJECTED, True),
        ("250 OK", "450 4.2.1 mailbox busy", DELIVERY_FAILED, False),
    ],
)
async def test_smtp_replies_are_classified(
    data_reply: str,
    rcpt_reply: str,
    kind: str,
    non_retryable: bool,
    smtp: SmtpReceiver,
    make_notifier: Callable[..., Notifier],
) -> None:
    smtp.respond_with(data_reply, rcpt_reply=rcpt_reply)
    err = await failure(make_notifier(**_mail_settings(smtp)), "email:escalation", note("breach"))
    assert (err.type, err.non_retryable) == (kind, non_retryable)
    assert smtp.mails == []


async def test_smtp_unreachable_is_retryable(make_notifier: Callable[..., Notifier]) -> None:
    settings = {
        "smtp_host": "127.0.0.1",
        "smtp_port": free_port(),
        "email_assignee_to": ("a@example.com",),
    }
    err = await failure(make_notifier(**settings), "email:assignee", note())
    assert (err.type, err.non_retryable) == (DELIVERY_FAILED, False)


async def test_smtp_login(make_notifier: Callable[..., Notifier]) -> None:
    async with SmtpReceiver(auth={"bot": "hunter2-password"}) as smtp:
        good = make_notifier(
            **_mail_settings(smtp, smtp_user="bot", smtp_password="hunter2-password")
        )
        assert (await deliver(good, "email:assignee", note())).outcome == "delivered"
        assert smtp.mails[0].authenticated_as == "bot"

        bad = make_notifier(**_mail_settings(smtp, smtp_user="bot", smtp_password="wrong-password"))
        err = await failure(bad, "email:assignee", note())
        assert (err.type, err.non_retryable) == (DELIVERY_REJECTED, True)
        assert "535" in err.message and "wrong-password" not in err.message
        assert len(smtp.mails) == 1


@pytest.fixture
def tls_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1, trusted by this process's default context."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_smtp_starttls_then_login(
    tls_context: ssl.SSLContext, make_notifier: Callable[..., Notifier]
) -> None:
    async with SmtpReceiver(
        auth={"bot": "pw-123"}, tls_context=tls_context, require_starttls=True
    ) as smtp:
        plain = make_notifier(**_mail_settings(smtp))
        err = await failure(plain, "email:assignee", note())  # the server insists on STARTTLS
        assert (err.type, err.non_retryable) == (DELIVERY_REJECTED, True)

        secure = make_notifier(
            **_mail_settings(smtp, smtp_starttls=True, smtp_user="bot", smtp_password="pw-123")
        )
        assert (await deliver(secure, "email:assignee", note())).outcome == "delivered"
        assert smtp.mails[0].authenticated_as == "bot"
