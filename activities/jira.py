"""Write SLA state back to Jira Service Management: an internal comment and a label.

Two requests per notification, the idempotent one first (a retry after a failed comment adds the
label again, which changes nothing):
1. `PUT /rest/api/3/issue/{key}` `{"update": {"labels": [{"add": "sla_breached_first_response"}]}}`
   (Jira platform REST API, "Edit issue"; answers 204);
   https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-put
2. `POST /rest/servicedeskapi/request/{key}/comment` `{"body": ..., "public": false}` (JSM REST
   API, "Create request comment"; `public: false` is an internal comment, hidden from the
   customer; answers 201).
   https://developer.atlassian.com/cloud/jira/service-desk/rest/api-group-request/#api-rest-servicedeskapi-request-issueidorkey-comment-post
Authenticated with an Atlassian API token as HTTP Basic `email:api_token`.
"""

from __future__ import annotations

import re

from activities.webhook import IDEMPOTENCY_HEADER, USER_AGENT, encode_body
from activities.zendesk import EVENTS, basic_auth, note_text, sla_tag
from activities.zendesk import KEY as ZENDESK_KEY
from plumbing.settings import Settings
from workflows.messages import NotificationRequest

KEY = re.compile(r"^([A-Z][A-Z0-9_]{0,49})-[0-9]{1,18}$")


def configured(settings: Settings) -> bool:
    return bool(settings.jira_url and settings.jira_email and settings.jira_api_token)


def is_jira_key(settings: Settings, ticket_key: str) -> bool:
    """An issue key of a configured project (TICKETCLOCK_JIRA_PROJECTS), or, with none
    configured, any issue-shaped key that is not a Zendesk one (`ZD-<id>`)."""
    match = KEY.fullmatch(ticket_key)
    if match is None:
        return False
    if settings.jira_projects:
        return match[1] in settings.jira_projects
    return ZENDESK_KEY.fullmatch(ticket_key) is None


def applies(settings: Settings, note: NotificationRequest) -> bool:
    return configured(settings) and note.event in EVENTS and is_jira_key(settings, note.ticket_key)


def write_back(
    settings: Settings, note: NotificationRequest
) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """(method, url, body, headers) of each request, in order."""
    assert configured(settings)
    base = (settings.jira_url or "").rstrip("/")
    key = note.ticket_key
    headers = {
        "Authorization": basic_auth(settings.jira_email or "", settings.jira_api_token or ""),
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
        IDEMPOTENCY_HEADER: note.idempotency_key,
    }
    label = encode_body({"update": {"labels": [{"add": sla_tag(note)}]}})
    comment = encode_body({"body": note_text(note), "public": False})
    return [
        ("PUT", f"{base}/rest/api/3/issue/{key}", label, headers),
        ("POST", f"{base}/rest/servicedeskapi/request/{key}/comment", comment, headers),
    ]
