"""Write SLA state back to Zendesk: an internal note and a tag on the ticket (`ZD-<id>` keys).

One request per notification, `PUT /api/v2/tickets/{id}` (Tickets API, "Update Ticket"):
`{"ticket": {"comment": {"body": ..., "public": false}, "additional_tags": [...]}}`.
`additional_tags` adds to the ticket's tags instead of replacing them, and `public: false` makes
the comment an internal note agents see and the requester does not. Authenticated with an API
token as HTTP Basic `{email}/token:{api_token}`.
https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-ticket
https://developer.zendesk.com/api-reference/introduction/security-and-auth/#api-token
"""

from __future__ import annotations

import base64
import re

from activities.webhook import IDEMPOTENCY_HEADER, USER_AGENT, encode_body
from plumbing.settings import Settings
from workflows.messages import NotificationRequest

KEY = re.compile(r"^ZD-([0-9]{1,20})$")
EVENTS = frozenset({"warning", "breach"})


def ticket_id(ticket_key: str) -> str | None:
    match = KEY.fullmatch(ticket_key)
    return match[1] if match else None


def configured(settings: Settings) -> bool:
    return bool(settings.zendesk_url and settings.zendesk_email and settings.zendesk_api_token)


def applies(settings: Settings, note: NotificationRequest) -> bool:
    return configured(settings) and note.event in EVENTS and ticket_id(note.ticket_key) is not None


def sla_tag(note: NotificationRequest) -> str:
    """`sla_breached_first_response`, `sla_warning_next_update`, ..."""
    state = "breached" if note.event == "breach" else "warning"
    return f"sla_{state}_{note.clock}"


def note_text(note: NotificationRequest) -> str:
    """The internal note: what happened to which clock, in words an agent reads at a glance."""
    clock = note.clock.replace("_", " ")
    due = note.due_text or note.due_local or "unknown"
    if note.event == "breach":
        head = f"SLA breached: {clock} was due {due}."
    else:
        head = f"SLA warning ({note.detail or 'approaching'}): {clock} is due {due}."
    return (
        f"{head}\n"
        f"Policy {note.policy}, tier {note.tier}, {note.severity_label}. "
        f"(ticketclock, {note.idempotency_key})"
    )


def basic_auth(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")


def write_back(
    settings: Settings, note: NotificationRequest
) -> tuple[str, str, bytes, dict[str, str]]:
    """(method, url, body, headers) of the one request this notification makes."""
    zid = ticket_id(note.ticket_key)
    assert zid is not None and configured(settings)
    body = encode_body(
        {
            "ticket": {
                "comment": {"body": note_text(note), "public": False},
                "additional_tags": [sla_tag(note)],
            }
        }
    )
    headers = {
        "Authorization": basic_auth(
            f"{settings.zendesk_email}/token", settings.zendesk_api_token or ""
        ),
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: note.idempotency_key,
    }
    base = (settings.zendesk_url or "").rstrip("/")
    return "PUT", f"{base}/api/v2/tickets/{zid}", body, headers
