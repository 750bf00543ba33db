"""SLA metrics: clocks started, warned, met and breached, notifications, time to first response.

Recorded from activities only, never from workflow code (which replays): through
`activity.metric_meter()`, the Temporal SDK's meter, so they leave by the SDK runtime's own exporter
(the worker's Prometheus endpoint, TICKETCLOCK_METRICS_PORT) next to the SDK's metrics, carrying
its `namespace`, `task_queue` and `activity_type` labels. Outside an activity, or on a runtime
without metrics, recording does nothing.

Which activity records what (docs/metrics.md):
- `compute_deadline` (local activity, so its result is recorded and it is not re-run on replay):
  `started` when a cycle's first deadline is computed; `met` / `breached` and the first-response
  histogram when an ended cycle is measured.
- `route_notification` (local activity): `warned` for warnings and customer-silence reminders.
- `deliver_notification`: `notifications`, one per delivery attempt, by outcome.

Names use `_` where OpenTelemetry would write `.` (`ticketclock.sla.started` is exported as
`ticketclock_sla_started`): the SDK's Prometheus registry refuses dots and would drop the values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from temporalio import activity
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError

from workflows.messages import (
    DeadlineRequest,
    DeadlineResult,
    DeliveryRequest,
    NotificationRequest,
)

STARTED = "ticketclock_sla_started"
WARNED = "ticketclock_sla_warned"
MET = "ticketclock_sla_met"
BREACHED = "ticketclock_sla_breached"
NOTIFICATIONS = "ticketclock_notifications"
FIRST_RESPONSE = "ticketclock_first_response_business_seconds"
WRITTEN_BACK = "ticketclock_integration_written_back"
WRITE_BACK_DESTINATIONS = frozenset({"zendesk", "jira"})

DESCRIPTIONS = {
    STARTED: "SLA clock cycles started",
    WARNED: "SLA warnings and customer-silence reminders fired",
    MET: "SLA clock cycles met",
    BREACHED: "SLA clock cycles breached",
    NOTIFICATIONS: "Notification delivery attempts, by outcome",
    FIRST_RESPONSE: "Clock time (business time on business clocks) to the end of first_response",
    WRITTEN_BACK: "SLA warnings and breaches written back to the helpdesk (zendesk, jira)",
}

# Business seconds from a minute to a business week: the SDK's default buckets stop at 10000.
HISTOGRAM_BUCKETS: Mapping[str, list[float]] = {
    FIRST_RESPONSE: [60, 300, 900, 1800, 3600, 7200, 14400, 28800, 57600, 86400, 172800, 345600]
}

DELIVERED = "delivered"
REJECTED = "rejected"  # the receiver (or this worker's configuration) said no: not retried
FAILED = "failed"  # this attempt failed; Temporal retries it


def _meter() -> MetricMeter | None:
    try:
        return activity.metric_meter()
    except RuntimeError:  # not in an activity (a unit test calling the function directly)
        return None


def _count(name: str, attributes: dict[str, str | int | float | bool]) -> None:
    meter = _meter()
    if meter is not None:
        meter.create_counter(name, DESCRIPTIONS[name]).add(1, attributes)


def record_deadline(req: DeadlineRequest, result: DeadlineResult) -> None:
    """`compute_deadline`: a cycle started, or an ended cycle measured as met or breached."""
    labels: dict[str, str | int | float | bool] = {
        "policy": req.sla.policy_id,
        "severity": req.severity,
        "clock": req.clock.value,
    }
    if req.purpose == "start":
        _count(STARTED, labels)
        return
    if req.purpose != "measure" or req.outcome not in ("met", "breached"):
        return
    _count(MET if req.outcome == "met" else BREACHED, {**labels, "outcome": req.outcome})
    meter = _meter()
    if meter is not None and req.clock.value == "first_response":
        histogram = meter.create_histogram_float(FIRST_RESPONSE, DESCRIPTIONS[FIRST_RESPONSE], "s")
        histogram.record(result.used.total_seconds(), {**labels, "outcome": req.outcome})


def record_routed(req: NotificationRequest) -> None:
    """`route_notification`: a warning or a reminder fired (whether or not anyone is routed)."""
    if req.event in ("warning", "reminder"):
        _count(WARNED, _notification_labels(req))


@contextlib.contextmanager
def delivery_outcome(req: DeliveryRequest) -> Iterator[None]:
    """Around one `deliver_notification` attempt: counts it as delivered, rejected or failed."""
    outcome = FAILED
    try:
        yield
        outcome = DELIVERED
    except ApplicationError as err:
        outcome = REJECTED if err.non_retryable else FAILED
        raise
    finally:
        labels = _notification_labels(req.notification)
        _count(NOTIFICATIONS, {**labels, "destination": req.destination, "outcome": outcome})
        if outcome == DELIVERED and req.destination in WRITE_BACK_DESTINATIONS:
            _count(WRITTEN_BACK, {**labels, "destination": req.destination})


def _notification_labels(req: NotificationRequest) -> dict[str, str | int | float | bool]:
    return {
        "policy": req.policy,
        "severity": req.severity,
        "clock": req.clock,
        "event": req.event,
    }
