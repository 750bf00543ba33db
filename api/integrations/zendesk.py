"""Zendesk ticket events (webhooks subscribed to `zen:event-type:ticket.*`) -> ticket actions.

Payload (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/):
`{"type": "zen:event-type:ticket.comment_added", "id": "<event id>", "time": ..., "subject":
"zen:ticket:<id>", "detail": {id, priority, status, subject, requester_id, brand_id,
organization_id, form_id, tags, created_at, via: {channel}, ...}, "event": {...}}`. Event
webhooks write ids as strings and enumerations in capitals (`OPEN`, `HIGH`); both are accepted in
any case. Fields we do not use are ignored.

What each event becomes:
- `ticket.created`: open ticket `ZD-<id>` (policy, tier, severity, customer from the mapping);
- `ticket.comment_added` (`event.comment {is_public, author {id, is_staff}}`): public by an
  agent: acknowledge (the first) or agent_update; public by the customer: customer_reply;
  private: nothing;
- `ticket.status_changed` (`event.previous`, `event.current`): a waiting status:
  request_customer_info; solved: resolve; closed: close; solved/closed -> an open one: reopen;
- `ticket.priority_changed` (`event.previous`, `event.current`): change_severity.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.integrations.apply import Plan, Step
from api.integrations.apply import ShapeError as ShapeError  # zendesk.ShapeError, as before
from api.integrations.mapping import HelpdeskMapping, TicketFacts, fold

EVENT_PREFIX = "zen:event-type:ticket."
KEY_PREFIX = "ZD-"
_TICKET_ID = re.compile(r"^[0-9]{1,20}$")


class _In(BaseModel):
    # Real payloads carry many more fields; ids arrive as strings or numbers.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Via(_In):
    channel: str | None = None


class Detail(_In):
    id: str = Field(pattern=_TICKET_ID.pattern)
    priority: str | None = None
    status: str | None = None
    subject: str | None = None
    requester_id: str | None = None
    brand_id: str | None = None
    organization_id: str | None = None
    form_id: str | None = None
    tags: list[str] | None = None
    created_at: AwareDatetime | None = None
    via: Via | None = None


class Author(_In):
    id: str | None = None
    is_staff: bool = False
    name: str | None = None


class Comment(_In):
    id: str | None = None
    is_public: bool
    author: Author = Author()


class EventBody(_In):
    comment: Comment | None = None
    # Strings for status and priority; other event types carry lists or objects here.
    current: Any = None
    previous: Any = None

    def text(self, name: str) -> str | None:
        value = getattr(self, name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ShapeError(f"event.{name}", "expected a string")


class ZendeskEvent(_In):
    type: str = Field(min_length=1)
    id: str = Field(min_length=1, max_length=200)
    time: AwareDatetime | None = None
    subject: str | None = None
    detail: Detail
    event: EventBody = EventBody()


def ticket_key(ticket_id: str) -> str:
    return f"{KEY_PREFIX}{ticket_id}"


def plan(event: ZendeskEvent, mapping: HelpdeskMapping, now: datetime | None = None) -> Plan:
    """What a Zendesk event means for ticket `ZD-<id>` (pure)."""
    d = event.detail
    if event.subject and event.subject != f"zen:ticket:{d.id}":
        raise ShapeError("subject", f"expected zen:ticket:{d.id}, got {event.subject!r}")
    facts = TicketFacts(
        brand=d.brand_id,
        organization=d.organization_id,
        tags=tuple(d.tags or ()),
        form=d.form_id,
        channel=d.via.channel if d.via else None,
        priority=d.priority,
    )
    eta = mapping.next_update_eta()
    base: dict[str, Any] = {
        "helpdesk": "zendesk",
        "key": ticket_key(d.id),
        "event_id": event.id,
        "facts": facts,
        "opened_at": d.created_at,
        "subject": d.subject,
        "channel": facts.channel,
        "eta_at": (now or datetime.now(UTC)) + eta if eta else None,
    }
    if not event.type.startswith(EVENT_PREFIX):
        return Plan(**base, ignored=(f"event type {event.type!r} is not a ticket event",))
    kind = event.type.removeprefix(EVENT_PREFIX)
    ev = event.event
    if kind == "created":
        return Plan(**base, create=True)
    if kind == "comment_added":
        if ev.comment is None:
            raise ShapeError("event.comment", "required for ticket.comment_added")
        c = ev.comment
        author = c.author.id
        actor = f"zendesk:{author or 'unknown'}"
        if not c.is_public:
            return Plan(**base, ignored=("a private note changes no SLA clock",))
        if _is_description(event):
            # The ticket's first comment arrives as comment_added too, in the same action as
            # the creation; by staff (a ticket opened for a caller) it is no response.
            return Plan(**base, ignored=("the ticket's description is not a response",))
        if mapping.ignores(author):
            return Plan(**base, ignored=(f"comments by {author} are ignored by the mapping",))
        if mapping.is_agent(author, c.author.is_staff):
            return Plan(**base, steps=(Step("respond", actor),))
        if mapping.file.customers.any_non_agent or author == d.requester_id:
            return Plan(**base, steps=(Step("customer_reply", actor),))
        return Plan(**base, ignored=(f"author {author} is neither agent nor requester",))
    if kind == "status_changed":
        return Plan(**base, **_status(ev, mapping))
    if kind == "priority_changed":
        current, previous = ev.text("current"), ev.text("previous")
        if not fold(current):
            return Plan(**base, ignored=("priority removed: severity unchanged",))
        severity = mapping.severity_for(current)
        if severity is None:
            return Plan(**base, ignored=(f"priority {current!r} is not in the mapping",))
        reason = f"Zendesk priority {fold(previous) or 'none'} -> {fold(current)}"
        step = Step("change_severity", "zendesk:priority", severity=severity, reason=reason)
        return Plan(**base, steps=(step,))
    return Plan(**base, ignored=(f"{event.type} changes no SLA clock",))


DESCRIPTION_WINDOW = timedelta(seconds=2)


def _is_description(event: ZendeskEvent) -> bool:
    """A comment added by the action that created the ticket (the same instant, give or take)."""
    created, at = event.detail.created_at, event.time
    return created is not None and at is not None and abs(at - created) <= DESCRIPTION_WINDOW


def _status(ev: EventBody, mapping: HelpdeskMapping) -> dict[str, Any]:
    current, previous = ev.text("current"), ev.text("previous")
    if not fold(current):
        raise ShapeError("event.current", "required for ticket.status_changed")
    what = f"Zendesk status {fold(previous) or 'none'} -> {fold(current)}"
    actor = "zendesk:status"
    if mapping.status_is("waiting_on_customer", current):
        return {"steps": (Step("request_customer_info", actor, reason=what),)}
    if mapping.status_is("solved", current):
        return {"steps": (Step("resolve", actor, reason=what),)}
    if mapping.status_is("closed", current):
        return {"steps": (Step("close", actor, reason=what),)}
    ended = mapping.status_is("solved", previous) or mapping.status_is("closed", previous)
    if mapping.status_is("open", current) and ended:
        return {"steps": (Step("reopen", actor, reason=what),)}
    return {"ignored": (f"{what} maps to nothing",)}
