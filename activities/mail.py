"""Notification emails: subject, text body and a Message-ID that a retried send repeats.

Named `mail` rather than `email` so it never shadows the standard library package.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from activities.slack import due_text, summary_line
from activities.webhook import utc_iso
from workflows.messages import NotificationRequest

IDEMPOTENCY_HEADER = "X-Ticketclock-Idempotency-Key"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def message_id(idempotency_key: str, destination: str, sender: str) -> str:
    """Deterministic per (key, destination): the same notification resent has the same ID."""
    digest = hashlib.sha256(f"{destination}\n{idempotency_key}".encode()).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ticketclock"
    return f"<{digest}@{domain}>"


def subject(req: NotificationRequest) -> str:
    """'[ticketclock] BREACH first_response ACME-1 (Sev1)'."""
    event = req.event.upper().replace("_", "-")
    return _one_line(f"[ticketclock] {event} {req.clock} {req.ticket_key} ({req.severity_label})")


def body(req: NotificationRequest) -> str:
    rows = [
        ("Ticket", req.ticket_key + (f" — {_one_line(req.subject)}" if req.subject else "")),
        ("Event", req.event),
        ("Clock", f"{req.clock} (cycle {req.cycle})"),
        ("Severity", f"{req.severity_label} ({req.severity})"),
        ("Policy", f"{req.policy}, tier {req.tier}"),
        ("Due", due_text(req) or "-"),
        ("Due (UTC)", utc_iso(req.due_at) or "-"),
        ("Due (local)", req.due_local or "-"),
        ("Occurred", utc_iso(req.occurred_at) or "-"),
        ("Page on-call", "yes" if req.page_oncall else "no"),
        ("Detail", req.detail or "-"),
        ("Workflow", req.workflow_id),
        ("Idempotency key", req.idempotency_key),
    ]
    width = max(len(name) for name, _ in rows) + 2
    lines = [summary_line(req), ""] + [f"{name + ':':<{width}}{value}" for name, value in rows]
    return "\n".join(lines) + "\n"


def build_message(
    req: NotificationRequest, destination: str, sender: str, recipients: tuple[str, ...]
) -> EmailMessage:
    """The whole message; `Date` is the event's time so a retry produces identical headers."""
    msg = EmailMessage()
    msg["Subject"] = subject(req)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(req.occurred_at)
    msg["Message-ID"] = message_id(req.idempotency_key, destination, sender)
    msg[IDEMPOTENCY_HEADER] = _one_line(req.idempotency_key)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body(req))
    return msg
