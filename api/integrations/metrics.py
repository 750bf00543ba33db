"""Counters of the inbound integration routes (the worker counts write-backs: activities/metrics).

Recorded on OpenTelemetry's meter `ticketclock.integrations` (exported wherever the process's
MeterProvider sends metrics; a no-op without one) and kept in-process in `COUNTS`, which the API's
`GET /metrics` renders in Prometheus' text format (`render`, api/metrics.py). Labels are closed
sets: the helpdesk and a reason or refusal type, never a ticket key.
"""

from __future__ import annotations

import threading
from collections import Counter

from opentelemetry import metrics as otel

RECEIVED = "ticketclock_integration_events_received"
IGNORED = "ticketclock_integration_events_ignored"
REFUSED = "ticketclock_integration_events_refused"
REJECTED = "ticketclock_integration_requests_rejected"

DESCRIPTIONS = {
    RECEIVED: "Helpdesk events accepted (signature and shape checked), by helpdesk",
    IGNORED: "Helpdesk events that map to nothing or are redeliveries (answered 2xx), by reason",
    REFUSED: "Actions the ticket refused (answered 2xx), by helpdesk and refusal type",
    REJECTED: "Requests answered 401 (signature) or 422 (shape), by helpdesk and status",
}

COUNTS: Counter[tuple[str, str, str]] = Counter()
_lock = threading.Lock()
_meter = otel.get_meter("ticketclock.integrations")
_counters = {name: _meter.create_counter(name, description=d) for name, d in DESCRIPTIONS.items()}


def count(name: str, helpdesk: str, reason: str = "") -> None:
    with _lock:
        COUNTS[(name, helpdesk, reason)] += 1
    labels = {"helpdesk": helpdesk} | ({"reason": reason} if reason else {})
    _counters[name].add(1, labels)


HELPDESKS = ("zendesk", "jira")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render() -> str:
    """The counters in Prometheus' text exposition format (0.0.4), named as the worker's
    metrics are (no `_total` suffix). Events received start at 0 for both helpdesks, so a rate
    is defined before the first event."""
    with _lock:
        counts = dict(COUNTS)
    for helpdesk in HELPDESKS:
        counts.setdefault((RECEIVED, helpdesk, ""), 0)
    lines: list[str] = []
    for name, description in DESCRIPTIONS.items():
        lines += [f"# HELP {name} {description}", f"# TYPE {name} counter"]
        for (metric, helpdesk, reason), n in sorted(counts.items()):
            if metric != name:
                continue
            labels = f'helpdesk="{_escape(helpdesk)}"'
            if reason:
                labels += f',reason="{_escape(reason)}"'
            lines.append(f"{name}{{{labels}}} {n}")
    return "\n".join(lines) + "\n"


def total(name: str, helpdesk: str) -> int:
    with _lock:
        return sum(n for (m, h, _), n in COUNTS.items() if m == name and h == helpdesk)
