"""Slack incoming-webhook messages, and the one-line summary that email and Slack share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from activities.webhook import utc_iso
from workflows.messages import NotificationRequest

_MAX_TEXT = 2900  # Slack caps a section's text at 3000 characters
_ICON = {
    "warning": "⚠",
    "breach": "🚨",
    "met": "✅",
    "reminder": "🔔",
    "auto_close": "🔒",
    "escalation": "⬆",
    "page": "📟",
}
_WORD = {
    "warning": "",
    "breach": "BREACH",
    "met": "met",
    "reminder": "reminder",
    "auto_close": "auto-close",
    "escalation": "ESCALATION",
    "page": "PAGE",
}


def due_text(req: NotificationRequest) -> str | None:
    """'Mon 23 Nov 09:00 America/Chicago' as the workflow sent it; else from due_local/due_at."""
    if req.due_text:
        return req.due_text
    if req.due_local:
        try:
            local = datetime.fromisoformat(req.due_local)
        except ValueError:
            return req.due_local
        offset = local.strftime("%z")
        zone = f" UTC{offset[:3]}:{offset[3:5]}" if offset else ""
        return f"{local:%a %d %b %H:%M}{zone}"
    return utc_iso(req.due_at)


def summary_line(req: NotificationRequest) -> str:
    """'⚠ first_response for ACME-1 (P2) due Mon 23 Nov 09:00 America/Chicago — 75% elapsed'."""
    icon = _ICON.get(req.event, "•")
    word = _WORD.get(req.event, req.event)
    prefix = f"{icon} {word} " if word else f"{icon} "
    line = f"{prefix}{req.clock} for {req.ticket_key} ({req.severity_label})"
    when = due_text(req)
    if when and req.event != "met":
        line += f" {'was due' if req.event == 'breach' else 'due'} {when}"
    if req.detail:
        line += f" — {req.detail}"
    return line


def _escape(text: str) -> str:
    """Slack mrkdwn control characters; user text must not become links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(req: NotificationRequest) -> dict[str, Any]:
    """Incoming-webhook body: `text` is the fallback for notifications, `blocks` the rich view."""
    line = _escape(summary_line(req))[:_MAX_TEXT]
    facts = [
        f"*Policy* {_escape(req.policy)} / {_escape(req.tier)}",
        f"*Severity* {_escape(req.severity_label)}",
        f"*Clock* {_escape(req.clock)} (cycle {req.cycle})",
    ]
    if req.due_at is not None:
        facts.append(f"*Due (UTC)* {utc_iso(req.due_at)}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": line}},
    ]
    if req.subject:
        blocks.append(
            {"type": "section", "text": {"type": "plain_text", "text": req.subject[:200]}}
        )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(facts)}]})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"`{_escape(req.workflow_id)}` · `{_escape(req.idempotency_key)}`",
                }
            ],
        }
    )
    return {"text": line, "blocks": blocks}
