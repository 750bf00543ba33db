"""Ticket keys and workflow IDs: pure (no Temporal import), so the rules core can name a ticket.

Nobody builds a workflow ID by hand: use `ticket_workflow_id` and its inverse.
"""

from __future__ import annotations

import re

TASK_QUEUE = "ticketclock"
WORKFLOW_ID_PREFIX = "ticket-"

# Keys are opaque helpdesk identifiers; never customer names or emails (IDs are shown everywhere).
# Not `.` nor `..`: path segments no HTTP client sends as they are (`/v1/tickets/..` is `/v1`), so
# such a ticket could never be read or acted on.
TICKET_KEY_PATTERN = re.compile(r"(?!\.\.?$)[A-Za-z0-9._:-]{1,128}")
# The same rule for OpenAPI (JSON Schema patterns are unanchored searches, hence ^...$).
TICKET_KEY_JSON_SCHEMA: dict[str, str | int] = {
    "pattern": f"^{TICKET_KEY_PATTERN.pattern}$",
    "minLength": 1,
    "maxLength": 128,
}


class InvalidTicketKey(ValueError):
    """A ticket key outside `[A-Za-z0-9._:-]{1,128}`, or `.` or `..`."""


def validate_ticket_key(key: str) -> str:
    if not isinstance(key, str) or not TICKET_KEY_PATTERN.fullmatch(key):
        raise InvalidTicketKey(
            f"key: {key!r} is not a ticket key (1-128 characters of A-Z a-z 0-9 . _ : -,"
            " not . nor ..)"
        )
    return key


def ticket_workflow_id(key: str) -> str:
    return WORKFLOW_ID_PREFIX + validate_ticket_key(key)


def ticket_key_from_workflow_id(workflow_id: str) -> str:
    if not workflow_id.startswith(WORKFLOW_ID_PREFIX):
        raise InvalidTicketKey(f"workflow id {workflow_id!r} is not a ticket workflow id")
    return validate_ticket_key(workflow_id[len(WORKFLOW_ID_PREFIX) :])
