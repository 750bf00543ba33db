"""Webhook signatures of the helpdesks, checked against the raw body in constant time.

- Zendesk: `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(secret, timestamp + body)) with the
  timestamp in `X-Zendesk-Webhook-Signature-Timestamp`; a timestamp further than the replay window
  from now is refused, so a captured request cannot be replayed later.
  https://developer.zendesk.com/documentation/webhooks/verifying/
- Jira Cloud admin webhooks: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>` (WebSub).
  https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

ZENDESK_SIGNATURE = "X-Zendesk-Webhook-Signature"
ZENDESK_TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
JIRA_SIGNATURE = "X-Hub-Signature"
JIRA_IDENTIFIER = "X-Atlassian-Webhook-Identifier"
REPLAY_WINDOW = timedelta(minutes=5)


class SignatureRefused(Exception):
    """Missing, wrong or stale: the message says which (never the expected value)."""


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def jira_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(expected: str, presented: str) -> bool:
    return hmac.compare_digest(expected.encode(), presented.strip().encode("utf-8", "replace"))


def parse_timestamp(raw: str) -> datetime:
    """Zendesk sends ISO 8601 (`2021-06-17T18:30:12Z`); epoch seconds are accepted too."""
    text = raw.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def check_zendesk(
    secret: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    *,
    now: datetime | None = None,
    window: timedelta = REPLAY_WINDOW,
) -> None:
    if not signature or not timestamp:
        raise SignatureRefused(f"missing {ZENDESK_SIGNATURE} or {ZENDESK_TIMESTAMP}")
    # The signature is checked before the timestamp is even parsed: an unsigned timestamp
    # tells the caller nothing.
    if not _same(zendesk_signature(secret, timestamp, body), signature):
        raise SignatureRefused(f"{ZENDESK_SIGNATURE} does not match the body")
    try:
        at = parse_timestamp(timestamp)
    except ValueError:
        raise SignatureRefused(f"{ZENDESK_TIMESTAMP} is not a timestamp") from None
    now = now or datetime.now(UTC)
    if abs(now - at) > window:
        raise SignatureRefused(
            f"{ZENDESK_TIMESTAMP} is outside the {int(window.total_seconds())}s replay window"
        )


def check_jira(secret: str, signature: str | None, body: bytes) -> None:
    if not signature:
        raise SignatureRefused(f"missing {JIRA_SIGNATURE}")
    if not _same(jira_signature(secret, body), signature):
        raise SignatureRefused(f"{JIRA_SIGNATURE} does not match the body")
