"""The `console` destination (issue 16): on (as `make run` sets it), one line per warning, breach,
reminder and auto-close; off, nothing routed there (the ledger said `no_route` before)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from activities import routing
from activities.notify import Notifier
from plumbing.settings import Settings
from workflows.messages import DeliveryRequest, NotificationRequest


def note(event: str) -> NotificationRequest:
    return NotificationRequest(
        workflow_id="ticket-ZD-1",
        ticket_key="ZD-1",
        policy="confluence-health-check",
        tier="standard",
        severity="sev1",
        severity_label="Sev1",
        clock="first_response",
        cycle=1,
        event=event,
        due_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
        due_local=None,
        due_text="Mon 23 Nov 09:00 UTC",
        idempotency_key=f"k-{event}",
        occurred_at=datetime(2026, 11, 23, 9, tzinfo=UTC),
        subject="Wiki down\x1b[31m",
    )


@pytest.mark.parametrize("event", routing.EVENTS)
def test_console_routes_the_four_events_when_on(event: str) -> None:
    on = routing.destinations_for(Settings(notify_console=True), note(event))
    off = routing.destinations_for(Settings(), note(event))
    wanted = event in ("warning", "breach", "reminder", "auto_close")
    assert (routing.CONSOLE in on) == wanted
    assert routing.CONSOLE not in off


async def test_a_breach_is_printed_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = Notifier(Settings(notify_console=True))
    try:
        result = await notifier._deliver(
            DeliveryRequest(destination=routing.CONSOLE, notification=note("breach"))
        )
    finally:
        await notifier.aclose()
    assert result.outcome == "delivered"
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("ticketclock BREACH ZD-1 first_response (confluence-health-check Sev1)")
    assert "due Mon 23 Nov 09:00 UTC" in out and "\x1b" not in out
