"""Counters of the inbound integration routes (the worker counts write-backs: activities/metrics).

Recorded on OpenTelemetry's meter `ticketclock.integrations` (exported wherever the process's
MeterProvider sends metrics; a no-op without one) and kept in-process in `COUNTS`, which the tests
and a debugger read. Labels are closed sets: the helpdesk and a reason or refusal type, never a
ticket key.
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
    IGNORED: "Helpdesk events that map to nothing (answered 2xx), by helpdesk",
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


def total(name: str, helpdesk: str) -> int:
    with _lock:
        return sum(n for (m, h, _), n in COUNTS.items() if m == name and h == helpdesk)
