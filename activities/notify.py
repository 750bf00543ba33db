"""The notification activities: route an event to destination names, deliver to one destination.

Endpoints, addresses and secrets come from the worker's `Settings`, never from workflow input
(which is recorded in history). Retries belong to Temporal: the HTTP client's own retries are off,
each failure is classified once here, and the workflow's bounded RetryPolicy does the rest.

Register both methods of one `Notifier` on the worker:
`activities=[notifier.route, notifier.deliver]`, and `await notifier.aclose()` on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import urlsplit

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import console, jira, mail, metrics, routing, slack, zendesk
from activities.webhook import encode_body, verify_signature, webhook_headers, webhook_payload
from plumbing.settings import Settings
from workflows.messages import DeliveryRequest, DeliveryResult, NotificationRequest

__all__ = [
    "DELIVERY_FAILED",
    "DELIVERY_REJECTED",
    "NO_SUCH_DESTINATION",
    "Notifier",
    "verify_signature",
    "webhook_payload",
]

DELIVERY_REJECTED = "DeliveryRejected"  # non-retryable: the receiver said no
DELIVERY_FAILED = "DeliveryFailed"  # retryable: try again later
NO_SUCH_DESTINATION = "NoSuchDestination"  # non-retryable: not configured on this worker

_MAX_RETRY_AFTER_S = 300.0
_BODY_EXCERPT = 200


class _RedactUrls(logging.Filter):
    """httpx logs every request URL at INFO; Slack webhook URLs carry their secret in the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and str(record.msg).startswith("HTTP Request:"):
            record.args = tuple(_redact(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


def _redact(url: httpx.URL | str) -> str:
    parts = urlsplit(str(url))
    return f"{parts.scheme}://{parts.hostname or ''}/…"


def _install_log_redaction() -> None:
    log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactUrls) for f in log.filters):
        log.addFilter(_RedactUrls())


_install_log_redaction()


def _rejected(message: str, *, kind: str = DELIVERY_REJECTED) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


def _failed(message: str, retry_after: float | None = None) -> ApplicationError:
    delay = (
        timedelta(seconds=min(retry_after, _MAX_RETRY_AFTER_S)) if retry_after is not None else None
    )
    return ApplicationError(message, type=DELIVERY_FAILED, next_retry_delay=delay)


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    return float(raw) if raw.isdigit() else None


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:_BODY_EXCERPT]
    return f": {text}" if text else ""


class Notifier:
    """Both notification activities, sharing one lazily created HTTP client."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._settings.notify_timeout_s),
                transport=httpx.AsyncHTTPTransport(retries=0),
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @activity.defn(name="route_notification")
    async def route(self, req: NotificationRequest) -> list[str]:
        """Destination names for this event (a local activity: the list lands in history)."""
        metrics.record_routed(req)
        return routing.destinations_for(self._settings, req)

    @activity.defn(name="deliver_notification")
    async def deliver(self, req: DeliveryRequest) -> DeliveryResult:
        """Deliver one notification to exactly one destination, or raise a classified error."""
        with metrics.delivery_outcome(req):
            return await self._deliver(req)

    async def _deliver(self, req: DeliveryRequest) -> DeliveryResult:
        destination, note = req.destination, req.notification
        settings = self._settings
        if destination == routing.WEBHOOK and settings.webhook_url:
            body = encode_body(webhook_payload(note))
            headers = webhook_headers(note, body, settings.webhook_secret)
            return await self._post(destination, settings.webhook_url, body, headers)
        if url := routing.slack_url(settings, destination):
            body = encode_body(slack.slack_message(note))
            headers = {"Content-Type": "application/json; charset=utf-8"}
            return await self._post(destination, url, body, headers)
        if destination == routing.ZENDESK and zendesk.applies(settings, note):
            method, url, body, headers = zendesk.write_back(settings, note)
            return await self._post(destination, url, body, headers, method=method)
        if destination == routing.JIRA and jira.applies(settings, note):
            result: DeliveryResult | None = None
            for method, url, body, headers in jira.write_back(settings, note):
                result = await self._post(destination, url, body, headers, method=method)
            assert result is not None
            return result
        if destination == routing.CONSOLE and settings.notify_console:
            console.print_line(note)
            return DeliveryResult(destination=destination, outcome="delivered", detail="printed")
        if recipients := routing.email_recipients(settings, destination):
            msg = mail.build_message(note, destination, settings.email_from, recipients)
            return await asyncio.to_thread(self._send_mail, destination, msg, recipients)
        raise _rejected(
            f"no destination {destination!r} is configured on this worker",
            kind=NO_SUCH_DESTINATION,
        )

    async def _post(
        self,
        destination: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        method: str = "POST",
    ) -> DeliveryResult:
        # Exception text can embed the URL; only the exception's class name is reported.
        try:
            response = await self.client.request(method, url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _failed(f"{destination}: timed out ({type(exc).__name__})") from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise _rejected(f"{destination}: misconfigured URL ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _failed(f"{destination}: connection failed ({type(exc).__name__})") from None
        status = response.status_code
        if 200 <= status < 300:
            return DeliveryResult(
                destination=destination, outcome="delivered", status=status, detail=f"HTTP {status}"
            )
        message = f"{destination}: HTTP {status}{_excerpt(response)}"
        if status in (408, 429) or status >= 500:
            raise _failed(message, _retry_after(response))
        raise _rejected(message)

    def _send_mail(
        self, destination: str, msg: EmailMessage, recipients: tuple[str, ...]
    ) -> DeliveryResult:
        """Blocking SMTP conversation; runs in a worker thread."""
        s = self._settings
        host = s.smtp_host or ""
        try:
            with smtplib.SMTP(host, s.smtp_port, timeout=s.notify_timeout_s) as smtp:
                smtp.ehlo()
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                refused = smtp.send_message(msg, from_addr=s.email_from, to_addrs=list(recipients))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            message = f"{destination}: all {len(codes)} recipient(s) refused ({_codes(codes)})"
            if all(code >= 500 for code in codes):
                raise _rejected(message) from None
            raise _failed(message) from None
        except smtplib.SMTPNotSupportedError:
            raise _rejected(f"{destination}: the SMTP server does not support STARTTLS") from None
        except smtplib.SMTPResponseException as exc:
            message = f"{destination}: SMTP {exc.smtp_code} ({type(exc).__name__})"
            if 500 <= exc.smtp_code < 600:
                raise _rejected(message) from None
            raise _failed(message) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise _failed(f"{destination}: SMTP connection failed ({type(exc).__name__})") from None
        accepted = len(recipients) - len(refused)
        detail = f"SMTP 250, {accepted} of {len(recipients)} recipient(s) accepted"
        if refused:
            detail += f" ({_codes([code for code, _ in refused.values()])} for the rest)"
        return DeliveryResult(
            destination=destination, outcome="delivered", status=250, detail=detail
        )


def _codes(codes: list[int]) -> str:
    return ", ".join(str(c) for c in sorted(set(codes)))
