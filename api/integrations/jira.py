"""Jira Cloud admin webhooks (Jira Service Management projects) -> ticket actions.

Payload (https://developer.atlassian.com/cloud/jira/platform/webhooks/): `{"webhookEvent",
"timestamp", "user", "issue": {"key", "fields": {summary, created, priority {name}, status
{name}, project {key}, issuetype {name}, reporter {accountId}, labels, customfield_*}},
"changelog": {"items": [{"field", "fromString", "toString"}]}, "comment": {"id", "author":
{"accountId", "accountType"}, "jsdPublic"}}`. Each delivery carries
`X-Atlassian-Webhook-Identifier`, unchanged across Jira's retries: the dedupe key. Fields we do
not use are ignored.

What each event becomes:
- `jira:issue_created`: open ticket `<issue key>`;
- `jira:issue_updated`, per changelog item: `status` -> request_customer_info / resolve / close /
  reopen; `priority` -> change_severity. Comments are taken from `comment_created` only, so a
  comment is never counted twice;
- `comment_created`: public (`jsdPublic: true`) by an agent: acknowledge (the first) or
  agent_update; by the customer (a JSM customer account, or the reporter): customer_reply;
  internal (`jsdPublic: false`): nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.integrations.apply import Plan, Step
from api.integrations.apply import ShapeError as ShapeError  # jira.ShapeError, as before
from api.integrations.mapping import HelpdeskMapping, TicketFacts, fold

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}-[0-9]{1,18}$")


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class Named(_In):
    name: str | None = None


class ProjectRef(_In):
    key: str | None = None


class User(_In):
    accountId: str | None = None  # noqa: N815 - Jira's spelling
    accountType: str | None = None  # noqa: N815


class Fields(_In):
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    summary: str | None = None
    created: str | None = None
    priority: Named | None = None
    status: Named | None = None
    project: ProjectRef | None = None
    issuetype: Named | None = None
    reporter: User | None = None
    labels: list[str] | None = None


class Issue(_In):
    key: str = Field(pattern=ISSUE_KEY.pattern)
    fields: Fields = Fields()


class ChangeItem(_In):
    field: str
    fromString: str | None = None  # noqa: N815
    toString: str | None = None  # noqa: N815


class Changelog(_In):
    items: list[ChangeItem] = Field(default_factory=list)


class Comment(_In):
    id: str | None = None
    author: User = User()
    jsdPublic: bool | None = None  # noqa: N815
    visibility: dict[str, Any] | None = None


class JiraEvent(_In):
    webhookEvent: str = Field(min_length=1)  # noqa: N815
    timestamp: int | None = None
    issue: Issue
    changelog: Changelog | None = None
    comment: Comment | None = None


def _created(raw: str | None) -> datetime | None:
    """Jira writes `2025-11-20T10:12:07.000+0000`."""
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        raise ShapeError("issue.fields.created", f"{raw!r} is not a timestamp") from None
    if at.tzinfo is None:
        raise ShapeError("issue.fields.created", f"{raw!r} has no UTC offset")
    return at


def _field_text(value: Any) -> str | None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        for name in ("value", "name"):
            if isinstance(value.get(name), str):
                return str(value[name])
    return None


def facts_of(fields: Fields) -> TicketFacts:
    extra = fields.model_extra or {}
    custom = {k: t for k, v in extra.items() if (t := _field_text(v)) is not None}
    request_type = None
    for value in extra.values():
        # JSM's "Customer Request Type" field: {"requestType": {"name": ...}, ...}
        if isinstance(value, dict) and isinstance(value.get("requestType"), dict):
            request_type = value["requestType"].get("name")
    return TicketFacts(
        project=fields.project.key if fields.project else None,
        issue_type=fields.issuetype.name if fields.issuetype else None,
        tags=tuple(fields.labels or ()),
        request_type=request_type,
        fields=custom,
        priority=fields.priority.name if fields.priority else None,
    )


def plan(
    event: JiraEvent, identifier: str, mapping: HelpdeskMapping, now: datetime | None = None
) -> Plan:
    """What a Jira delivery means for the ticket keyed by its issue key (pure)."""
    fields = event.issue.fields
    eta = mapping.next_update_eta()
    base: dict[str, Any] = {
        "helpdesk": "jira",
        "key": event.issue.key,
        "event_id": identifier,
        "facts": facts_of(fields),
        "opened_at": _created(fields.created),
        "subject": fields.summary,
        "channel": None,
        "eta_at": (now or datetime.now(UTC)) + eta if eta else None,
    }
    kind = event.webhookEvent
    if kind == "jira:issue_created":
        return Plan(**base, create=True)
    if kind == "jira:issue_updated":
        steps: list[Step] = []
        ignored: list[str] = []
        for item in event.changelog.items if event.changelog else []:
            if item.field == "status":
                step, why = _status(item, mapping)
            elif item.field == "priority":
                step, why = _priority(item, mapping)
            else:
                continue
            if step is not None:
                steps.append(step)
            else:
                ignored.append(why)
        if not steps and not ignored:
            ignored.append("no status or priority change")
        return Plan(**base, steps=tuple(steps), ignored=tuple(ignored))
    if kind == "comment_created":
        if event.comment is None:
            raise ShapeError("comment", "required for comment_created")
        return Plan(**base, **_comment(event.comment, fields, mapping))
    return Plan(**base, ignored=(f"{kind} changes no SLA clock",))


def _comment(c: Comment, fields: Fields, mapping: HelpdeskMapping) -> dict[str, Any]:
    author = c.author.accountId
    actor = f"jira:{author or 'unknown'}"
    internal = c.jsdPublic is False or (c.jsdPublic is None and c.visibility is not None)
    if internal:
        return {"ignored": ("an internal comment changes no SLA clock",)}
    if mapping.ignores(author):
        return {"ignored": (f"comments by {author} are ignored by the mapping",)}
    reporter = fields.reporter.accountId if fields.reporter else None
    kind = fold(c.author.accountType)
    staff = kind == "atlassian" and author != reporter
    if mapping.is_agent(author, staff):
        return {"steps": (Step("respond", actor),)}
    if kind == "customer" or author == reporter:
        return {"steps": (Step("customer_reply", actor),)}
    if kind != "app" and mapping.file.customers.any_non_agent:
        return {"steps": (Step("customer_reply", actor),)}
    return {"ignored": (f"comment by {kind or 'unknown'} account {author} is not counted",)}


def _status(item: ChangeItem, mapping: HelpdeskMapping) -> tuple[Step | None, str]:
    current, previous = item.toString, item.fromString
    what = f"Jira status {previous or 'none'} -> {current or 'none'}"
    actor = "jira:status"
    if mapping.status_is("waiting_on_customer", current):
        return Step("request_customer_info", actor, reason=what), ""
    if mapping.status_is("solved", current):
        return Step("resolve", actor, reason=what), ""
    if mapping.status_is("closed", current):
        return Step("close", actor, reason=what), ""
    ended = mapping.status_is("solved", previous) or mapping.status_is("closed", previous)
    if mapping.status_is("open", current) and ended:
        return Step("reopen", actor, reason=what), ""
    return None, f"{what} maps to nothing"


def _priority(item: ChangeItem, mapping: HelpdeskMapping) -> tuple[Step | None, str]:
    if not fold(item.toString):
        return None, "priority removed: severity unchanged"
    severity = mapping.severity_for(item.toString)
    if severity is None:
        return None, f"priority {item.toString!r} is not in the mapping"
    reason = f"Jira priority {item.fromString or 'none'} -> {item.toString}"
    return Step("change_severity", "jira:priority", severity=severity, reason=reason), ""
