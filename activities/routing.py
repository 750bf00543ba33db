"""Which destinations an event goes to, decided from the worker's settings alone.

The result is recorded in workflow history, so it holds destination *names* only ("webhook",
"slack:escalation", "email:oncall"), never a URL, an address or a secret. The table is documented
in docs/notifications.md; keep the two in step.
"""

from __future__ import annotations

from activities import console, jira, zendesk
from plumbing.settings import Settings
from workflows.messages import NotificationRequest

WEBHOOK = "webhook"
SLACK = "slack"
SLACK_ESCALATION = "slack:escalation"
EMAIL_ASSIGNEE = "email:assignee"
EMAIL_ESCALATION = "email:escalation"
EMAIL_ONCALL = "email:oncall"
ZENDESK = "zendesk"  # write-back: internal note + tag on the ZD-<id> ticket (warning, breach)
JIRA = "jira"  # write-back: internal JSM comment + label on the issue (warning, breach)
CONSOLE = "console"  # one line on the worker's output (warning, breach, reminder, auto-close)
DESTINATIONS = (
    WEBHOOK,
    SLACK,
    SLACK_ESCALATION,
    EMAIL_ASSIGNEE,
    EMAIL_ESCALATION,
    EMAIL_ONCALL,
    ZENDESK,
    JIRA,
    CONSOLE,
)

EVENTS = ("warning", "breach", "met", "reminder", "auto_close", "escalation", "page")
ASSIGNEE_EVENTS = frozenset({"warning", "reminder"})
ESCALATION_EVENTS = frozenset({"breach", "auto_close", "escalation"})
ONCALL_EVENTS = frozenset({"warning", "breach", "page"})


def email_recipients(settings: Settings, destination: str) -> tuple[str, ...]:
    """The addresses behind an `email:*` destination; empty when it is not configured.

    An address list without an SMTP host is not a usable destination, so it counts as empty.
    """
    if not settings.smtp_host:
        return ()
    return {
        EMAIL_ASSIGNEE: settings.email_assignee_to,
        EMAIL_ESCALATION: settings.email_escalation_to,
        EMAIL_ONCALL: settings.email_oncall_to,
    }.get(destination, ())


def slack_url(settings: Settings, destination: str) -> str | None:
    if destination == SLACK:
        return settings.slack_webhook_url or None
    if destination == SLACK_ESCALATION:
        return settings.slack_escalation_webhook_url or None
    return None


def destinations_for(settings: Settings, req: NotificationRequest) -> list[str]:
    """The routing table: destination names for one event, deduplicated, in a stable order."""
    names: list[str] = []
    if settings.webhook_url:
        names.append(WEBHOOK)
    if req.event in ASSIGNEE_EVENTS:
        if settings.slack_webhook_url:
            names.append(SLACK)
        if email_recipients(settings, EMAIL_ASSIGNEE):
            names.append(EMAIL_ASSIGNEE)
    if req.event in ESCALATION_EVENTS:
        if settings.slack_escalation_webhook_url:
            names.append(SLACK_ESCALATION)
        elif settings.slack_webhook_url:
            names.append(SLACK)
        if email_recipients(settings, EMAIL_ESCALATION):
            names.append(EMAIL_ESCALATION)
    if req.page_oncall and req.event in ONCALL_EVENTS and email_recipients(settings, EMAIL_ONCALL):
        names.append(EMAIL_ONCALL)
    if zendesk.applies(settings, req):
        names.append(ZENDESK)
    if jira.applies(settings, req):
        names.append(JIRA)
    if settings.notify_console and req.event in console.EVENTS:
        names.append(CONSOLE)
    return list(dict.fromkeys(names))
