"""The generic webhook: its JSON schema, the exact body bytes, and the HMAC signature over them.

Receivers verify `X-Ticketclock-Signature` against the raw body they received (never a re-encoded
copy), so the body is produced once, here, and the same bytes are both signed and sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from workflows.messages import NotificationRequest

SCHEMA = "ticketclock.notification/v1"
SIGNATURE_HEADER = "X-Ticketclock-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_PREFIX = "sha256="


def _version() -> str:
    try:
        return metadata.version("ticketclock")
    except metadata.PackageNotFoundError:
        return "dev"


USER_AGENT = f"ticketclock/{_version()}"


def utc_iso(at: datetime | None) -> str | None:
    """UTC ISO 8601 with a `Z`; a naive datetime is taken to be UTC already."""
    if at is None:
        return None
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.isoformat().replace("+00:00", "Z")


def webhook_payload(req: NotificationRequest) -> dict[str, Any]:
    """The documented webhook JSON object (docs/notifications.md, "Webhook payload")."""
    return {
        "schema": SCHEMA,
        "event": req.event,
        "idempotency_key": req.idempotency_key,
        "workflow_id": req.workflow_id,
        "ticket_key": req.ticket_key,
        "subject": req.subject,
        "policy": req.policy,
        "tier": req.tier,
        "severity": req.severity,
        "severity_label": req.severity_label,
        "clock": req.clock,
        "cycle": req.cycle,
        "due_at": utc_iso(req.due_at),
        "due_local": req.due_local,
        "occurred_at": utc_iso(req.occurred_at),
        "page_oncall": req.page_oncall,
        "detail": req.detail,
    }


def encode_body(payload: dict[str, Any]) -> bytes:
    """Compact, key-sorted UTF-8 JSON: the same notification always yields the same bytes."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """The `X-Ticketclock-Signature` value: `sha256=<hex HMAC-SHA256 of body>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """True when `header` is the signature of the raw `body` under `secret` (constant time)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), header.strip().encode())


def webhook_headers(req: NotificationRequest, body: bytes, secret: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: req.idempotency_key,
    }
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return headers
