"""The deadline local activity: business-time arithmetic runs here, never in workflow code.

Its result is recorded in history, so replay never recomputes a deadline: a newer `holidays` or
`tzdata`, or an edited policy file, cannot move a running ticket's clocks. The arithmetic itself
is `workflows.deadlines.deadline_for` (pure; the what-if engine replays with it too).
"""

from __future__ import annotations

from temporalio import activity

from activities import metrics
from workflows.deadlines import deadline_for, local_text
from workflows.messages import DeadlineRequest, DeadlineResult

__all__ = ["compute_deadline", "deadline_for", "local_text"]


@activity.defn(name="compute_deadline")
def compute_deadline(req: DeadlineRequest) -> DeadlineResult:
    """Synchronous on purpose: CPU-bound, so the worker runs it on its activity thread pool
    (`ticketclock.worker.ACTIVITY_THREADS`), never on the event loop that serves every other
    ticket's timers and notifications."""
    result = deadline_for(req)
    metrics.record_deadline(req, result)
    return result
