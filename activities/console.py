"""The `console` destination: one line per warning, breach, reminder and auto-close on the
worker's standard output (`make run` shows it prefixed `worker |`), so a breach in the dev stack
is seen, not only recorded. On with TICKETCLOCK_NOTIFY_CONSOLE (`make run` sets it).
"""

from __future__ import annotations

import sys
from typing import TextIO

from workflows.messages import NotificationRequest

EVENTS = frozenset({"warning", "breach", "reminder", "auto_close"})
_WORDS = {
    "warning": "WARNING",
    "breach": "BREACH",
    "reminder": "REMINDER",
    "auto_close": "AUTO-CLOSE",
}


def _plain(text: str) -> str:
    """One line, no terminal control characters (subjects come from customers)."""
    return "".join(c if c.isprintable() else " " for c in " ".join(text.split()))


def console_line(note: NotificationRequest) -> str:
    """'BREACH ZD-1 first_response (confluence-health-check Sev1) due Mon 23 Nov 09:00 UTC: ...'"""
    due = note.due_text or (note.due_at.isoformat() if note.due_at else "-")
    line = (
        f"{_WORDS.get(note.event, note.event.upper())} {note.ticket_key} {note.clock}"
        f" ({note.policy} {note.severity_label}) due {due}"
    )
    if note.detail:
        line += f": {note.detail}"
    if note.subject:
        line += f" [{note.subject}]"
    return "ticketclock " + _plain(line)


def print_line(note: NotificationRequest, stream: TextIO | None = None) -> str:
    line = console_line(note)
    out = stream or sys.stdout
    print(line, file=out, flush=True)
    return line
