"""Every clock under the time-skipping test server, with a real webhook receiver.

Actions are sent as Signals here (the classic time-skipping server handles Updates poorly); Updates
are tested against the dev server in test_workflow_updates.py. Each test asserts what was notified
and at which virtual instant (the payload's `occurred_at` is the workflow's clock).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.notify import verify_signature
from harness.receivers import SmtpReceiver
from policies.snapshot import Clock
from tests.support.rigs import SECRET, Rig, ticket_rig
from tests.support.rigs import at as _at
from tests.support.slas import quick_sla, target
from workflows.messages import (
    Acknowledge,
    AgentUpdate,
    AssignIncidentCommander,
    ChangeSeverity,
    Close,
    CustomerReply,
    CycleStatus,
    EngineeringAck,
    Escalate,
    Mitigate,
    OpenReview,
    RequestCustomerInfo,
    Resolve,
    TicketStatus,
    TicketView,
)
from workflows.rules import ENDED_CYCLES_KEPT
from workflows.ticket import DELIVERY_HEARTBEAT, TicketWorkflow


async def _status(handle: WorkflowHandle[Any, Any]) -> TicketView:
    return await handle.query(TicketWorkflow.status)


async def test_first_response_nobody_acts_warns_then_breaches_on_time(rig: Rig) -> None:
    sla = quick_sla(sev1={Clock.first_response: target(Clock.first_response, 3600, warn=0.75)})
    handle = await rig.start(sla)
    await rig.env.sleep(timedelta(hours=2))
    view = await _status(handle)
    cycle = view.clocks[0]
    assert cycle.clock == Clock.first_response and cycle.status == CycleStatus.breached
    assert view.breached and view.breached_clocks == ["first_response"]
    events = [e["event"] for e in rig.events(handle)]
    assert events == ["warning", "breach"]
    warning, breach = rig.events(handle)
    due = _at(breach, "due_at")
    assert due - view.opened_at == timedelta(hours=1)
    # Fired at the due instant of the virtual clock (not polled: no later than a second after).
    assert timedelta(0) <= _at(breach, "occurred_at") - due < timedelta(seconds=1)
    assert timedelta(0) <= _at(warning, "occurred_at") - (view.opened_at + timedelta(minutes=45))
    assert _at(warning, "occurred_at") - (view.opened_at + timedelta(minutes=45)) < timedelta(
        seconds=1
    )
    # Idempotency key and signature, as an integration would check them.
    request = next(r for r in rig.hook.requests if r.json()["event"] == "breach")
    assert request.headers["idempotency-key"] == f"{handle.id}:first_response:1:breach"
    assert verify_signature(SECRET, request.body, request.headers["x-ticketclock-signature"])
    # Deliveries heartbeat, so one cut off by a dead worker is retried within seconds, not after
    # the whole start-to-close timeout (drills.failover).
    history = await handle.fetch_history()
    deliveries = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "deliver_notification"
    ]
    assert len(deliveries) == 2
    for scheduled in deliveries:
        assert scheduled.heartbeat_timeout.ToTimedelta() == DELIVERY_HEARTBEAT
        assert scheduled.start_to_close_timeout.ToTimedelta() > DELIVERY_HEARTBEAT


async def test_first_response_met_by_acknowledge_before_due(rig: Rig) -> None:
    sla = quick_sla(sev1={Clock.first_response: target(Clock.first_response, 3600, warn=0.5)})
    handle = await rig.start(sla)
    await rig.env.sleep(timedelta(minutes=10))
    await handle.signal("acknowledge", Acknowledge(actor="agent:a"))
    await rig.env.sleep(timedelta(hours=2))
    view = await _status(handle)
    assert view.clocks[0].status == CycleStatus.met
    assert view.status == TicketStatus.in_progress
    assert [e["event"] for e in rig.events(handle)] == ["met"]
    assert view.clocks[0].business_used is not None
    assert timedelta(minutes=10) <= view.clocks[0].business_used < timedelta(minutes=11)


async def test_already_missed_target_breaches_at_once(rig: Rig) -> None:
    sla = quick_sla(sev1={Clock.first_response: target(Clock.first_response, 3600, warn=0.5)})
    opened = await rig.now() - timedelta(days=1)
    handle = await rig.start(sla, opened_at=opened)
    await rig.env.sleep(timedelta(seconds=5))
    view = await _status(handle)
    assert view.clocks[0].status == CycleStatus.breached
    assert view.clocks[0].breached_at == opened + timedelta(hours=1)
    # The stale warning is skipped: the breach says it all.
    assert [e["event"] for e in rig.events(handle)] == ["breach"]
    assert view.clocks[0].warnings[0].skipped


async def test_next_update_resets_pauses_while_waiting_and_stops_at_mitigation(rig: Rig) -> None:
    sla = quick_sla(
        sev1={
            Clock.first_response: target(Clock.first_response, 3600, warn=None),
            Clock.next_update: target(Clock.next_update, 3600, warn=None),
        }
    )
    handle = await rig.start(sla)
    await handle.signal("acknowledge", Acknowledge(actor="a"))
    await rig.env.sleep(timedelta(minutes=30))
    await handle.signal("agent_update", AgentUpdate(actor="a"))  # resets: cycle 2
    await rig.env.sleep(timedelta(minutes=20))
    await handle.signal("request_customer_info", RequestCustomerInfo(actor="a"))
    await rig.env.sleep(timedelta(hours=3))  # paused: no breach while waiting on the customer
    view = await _status(handle)
    updates = [c for c in view.clocks if c.clock == Clock.next_update]
    assert [c.status for c in updates] == [CycleStatus.met, CycleStatus.paused]
    assert updates[1].due_at is None
    await handle.signal("customer_reply", CustomerReply(actor="customer"))
    await rig.env.sleep(timedelta(minutes=1))
    view = await _status(handle)
    second = [c for c in view.clocks if c.clock == Clock.next_update][1]
    assert second.status == CycleStatus.running and second.due_at is not None
    pause = second.paused[0]
    assert pause.end is not None
    # Due moved by exactly the paused span.
    assert second.due_at == second.started_at + timedelta(hours=1) + (pause.end - pause.start)
    await handle.signal("mitigate", Mitigate(actor="a"))
    await rig.env.sleep(timedelta(hours=3))
    view = await _status(handle)
    second = [c for c in view.clocks if c.clock == Clock.next_update][1]
    assert second.status == CycleStatus.stopped and second.ended_reason == "mitigated"
    assert "breach" not in [e["event"] for e in rig.events(handle)]


async def test_next_update_missed_breaches_and_eta_earlier_than_policy_is_the_deadline(
    rig: Rig,
) -> None:
    sla = quick_sla(
        sev1={
            Clock.first_response: target(Clock.first_response, 3600, warn=None),
            Clock.next_update: target(Clock.next_update, 3600, warn=None),
        }
    )
    handle = await rig.start(sla)
    now = await rig.now()
    eta = now + timedelta(minutes=20)
    await handle.signal("acknowledge", Acknowledge(actor="a", next_update_eta=eta))
    await rig.env.sleep(timedelta(minutes=30))
    view = await _status(handle)
    cycle = next(c for c in view.clocks if c.clock == Clock.next_update)
    assert cycle.status == CycleStatus.breached
    assert cycle.due_at == eta
    breach = next(e for e in rig.events(handle) if e["event"] == "breach")
    assert breach["clock"] == "next_update"
    assert timedelta(0) <= _at(breach, "occurred_at") - eta < timedelta(seconds=1)


async def test_incident_commander_breach_pages_and_assignment_meets(rig: Rig) -> None:
    ic = {
        Clock.first_response: target(Clock.first_response, 86400, warn=None),
        Clock.incident_commander: target(Clock.incident_commander, 900, warn=None),
    }
    late = await rig.start(quick_sla(sev1=ic))
    on_time = await rig.start(quick_sla(sev1=ic))
    await late.signal("engineering_ack", EngineeringAck(actor="eng"))
    await on_time.signal("engineering_ack", EngineeringAck(actor="eng"))
    await rig.env.sleep(timedelta(minutes=10))
    await on_time.signal(
        "assign_incident_commander", AssignIncidentCommander(actor="eng", commander="kim")
    )
    await rig.env.sleep(timedelta(minutes=10))
    late_view, on_time_view = await _status(late), await _status(on_time)
    assert [c.status for c in late_view.clocks if c.clock == Clock.incident_commander] == [
        CycleStatus.breached
    ]
    assert [c.status for c in on_time_view.clocks if c.clock == Clock.incident_commander] == [
        CycleStatus.met
    ]
    breach = next(e for e in rig.events(late) if e["event"] == "breach")
    assert breach["clock"] == "incident_commander"
    assert on_time_view.incident_commander == "kim"


async def test_customer_silence_reminds_then_auto_closes_and_a_reply_cancels(rig: Rig) -> None:
    silence = {
        Clock.first_response: target(Clock.first_response, 3600, warn=None),
        Clock.customer_silence: target(Clock.customer_silence, 5 * 86400, warn=0.6),
    }
    silent = await rig.start(quick_sla(sev1=silence))
    replies = await rig.start(quick_sla(sev1=silence))
    for handle in (silent, replies):
        await handle.signal("request_customer_info", RequestCustomerInfo(actor="a"))
    await rig.env.sleep(timedelta(days=1))
    await replies.signal("customer_reply", CustomerReply(actor="customer"))
    await rig.env.sleep(timedelta(days=6))
    silent_view, replies_view = await _status(silent), await _status(replies)
    # Asking the customer is a public response: it meets first_response.
    assert [e["event"] for e in rig.events(silent)] == ["met", "reminder", "auto_close"]
    assert silent_view.status == TicketStatus.closed
    auto_close = rig.events(silent)[2]
    assert (
        timedelta(0)
        <= _at(auto_close, "occurred_at") - _at(auto_close, "due_at")
        < timedelta(seconds=1)
    )
    assert replies_view.status == TicketStatus.in_progress
    assert [e["event"] for e in rig.events(replies)] == ["met"]
    cycle = next(c for c in replies_view.clocks if c.clock == Clock.customer_silence)
    assert cycle.status == CycleStatus.met


async def test_post_incident_review_due_after_mitigation_met_when_opened(rig: Rig) -> None:
    review = {
        Clock.first_response: target(Clock.first_response, 3600, warn=None),
        Clock.post_incident_review: target(Clock.post_incident_review, 2 * 86400, warn=None),
    }
    missed = await rig.start(quick_sla(sev1=review))
    opened = await rig.start(quick_sla(sev1=review))
    for handle in (missed, opened):
        await handle.signal("mitigate", Mitigate(actor="a"))
    await rig.env.sleep(timedelta(days=1))
    await opened.signal("open_review", OpenReview(actor="a"))
    await rig.env.sleep(timedelta(days=2))
    missed_cycle = next(
        c for c in (await _status(missed)).clocks if c.clock == Clock.post_incident_review
    )
    opened_cycle = next(
        c for c in (await _status(opened)).clocks if c.clock == Clock.post_incident_review
    )
    assert missed_cycle.status == CycleStatus.breached
    assert opened_cycle.status == CycleStatus.met
    review_events = [e for e in rig.events(opened) if e["clock"] == "post_incident_review"]
    assert [e["event"] for e in review_events] == ["met"]
    missed_events = [e for e in rig.events(missed) if e["clock"] == "post_incident_review"]
    assert [e["event"] for e in missed_events] == ["breach"]


async def test_escalation_window_accepts_inside_and_rejects_after(rig: Rig) -> None:
    window = {
        Clock.first_response: target(Clock.first_response, 3600, warn=None),
        Clock.escalation_window: target(Clock.escalation_window, 30 * 86400, warn=None),
    }
    handle = await rig.start(quick_sla(sev1=window, reopen_window=timedelta(days=60)))
    await handle.signal("resolve", Resolve(actor="a", solution="patched"))
    await rig.env.sleep(timedelta(days=10))
    await handle.signal("escalate", Escalate(actor="customer", reason="not fixed"))
    await rig.env.sleep(timedelta(days=25))
    await handle.signal("escalate", Escalate(actor="customer", reason="still not fixed"))
    await rig.env.sleep(timedelta(minutes=1))
    view = await _status(handle)
    cycle = next(c for c in view.clocks if c.clock == Clock.escalation_window)
    assert cycle.status == CycleStatus.expired
    escalations = [e for e in view.events if e.action == "escalate"]
    assert [e.accepted for e in escalations] == [True, False]
    assert "EscalationWindowClosed" in (escalations[1].detail or "")
    assert [e["event"] for e in rig.events(handle)] == ["met", "escalation"]


async def test_severity_change_recomputes_from_original_start(rig: Rig) -> None:
    sla = quick_sla(
        sev1={Clock.first_response: target(Clock.first_response, 3600, warn=None)},
        sev3={Clock.first_response: target(Clock.first_response, 4 * 3600, warn=None)},
    )
    downgraded = await rig.start(sla.with_severity("sev1"))
    upgraded = await rig.start(sla.with_severity("sev3"))
    await rig.env.sleep(timedelta(minutes=30))
    await downgraded.signal("change_severity", ChangeSeverity(actor="a", severity="3", reason="x"))
    await rig.env.sleep(timedelta(minutes=100))
    # 130 minutes in: more than Sev1's hour, so upgrading now breaches at once.
    await upgraded.signal(
        "change_severity", ChangeSeverity(actor="a", severity="critical", reason="outage")
    )
    await rig.env.sleep(timedelta(seconds=5))
    down, up = await _status(downgraded), await _status(upgraded)
    assert down.severity == "sev3" and down.clocks[0].status == CycleStatus.running
    assert down.clocks[0].due_at == down.opened_at + timedelta(hours=4)
    assert up.severity == "sev1" and up.clocks[0].status == CycleStatus.breached
    assert up.clocks[0].breached_at == up.opened_at + timedelta(hours=1)
    assert [e["event"] for e in rig.events(upgraded)] == ["breach"]


async def test_invalid_signal_is_recorded_as_rejected_and_changes_nothing(rig: Rig) -> None:
    handle = await rig.start(quick_sla(eta_required=True))
    await handle.signal("acknowledge", Acknowledge(actor="a"))  # Sev1 needs an ETA
    await handle.signal("change_severity", ChangeSeverity(actor="a", severity="sev9", reason="x"))
    await rig.env.sleep(timedelta(seconds=5))
    view = await _status(handle)
    rejected = [e for e in view.events if not e.accepted]
    assert [(e.action, e.via) for e in rejected] == [
        ("acknowledge", "signal"),
        ("change_severity", "signal"),
    ]
    assert "EtaRequired" in (rejected[0].detail or "")
    assert view.status == TicketStatus.awaiting_first_response
    assert view.clocks[0].status == CycleStatus.running and view.severity == "sev1"


async def test_closed_ticket_completes_after_reopen_window(rig: Rig) -> None:
    handle = await rig.start(quick_sla(reopen_window=timedelta(days=2)))
    await handle.signal("resolve", Resolve(actor="a", solution="done"))
    await handle.signal("close", Close(actor="a"))
    result = await handle.result()  # time skips through the reopen window
    assert result.status == TicketStatus.closed
    assert result.clocks[0].status == CycleStatus.met


async def test_continue_as_new_keeps_every_clock(rig: Rig) -> None:
    sla = quick_sla(
        sev1={
            Clock.first_response: target(Clock.first_response, 3600, warn=None),
            Clock.next_update: target(Clock.next_update, 7200, warn=0.5),
        }
    )
    handle = await rig.start(sla, continue_as_new_after_events=40)
    await handle.signal("acknowledge", Acknowledge(actor="a"))
    for _ in range(6):
        await handle.signal("agent_update", AgentUpdate(actor="a"))
        await rig.env.sleep(timedelta(minutes=10))
    await rig.env.sleep(timedelta(hours=3))
    view = await _status(handle)
    assert view.runs > 1, "the test knob should have forced continue-as-new"
    updates = [c for c in view.clocks if c.clock == Clock.next_update]
    # Ended cycles are trimmed to the newest ENDED_CYCLES_KEPT per clock (a bounded carried
    # state); numbering carries on across runs, so idempotency keys stay unique.
    kept = ENDED_CYCLES_KEPT
    assert [c.cycle for c in updates] == list(range(8 - kept, 8))
    assert all(c.status == CycleStatus.met for c in updates[:-1])
    assert updates[-1].status == CycleStatus.breached
    events = [(e["clock"], e["cycle"], e["event"]) for e in rig.events(handle)]
    assert events == [
        ("first_response", 1, "met"),
        ("next_update", 7, "warning"),
        ("next_update", 7, "breach"),
    ]
    keys = [r.headers["idempotency-key"] for r in rig.hook.requests]
    assert len(keys) == len(set(keys))


async def test_rejected_webhook_is_a_failed_delivery_and_oncall_gets_the_email(
    ts_env: WorkflowEnvironment,
) -> None:
    async with (
        SmtpReceiver() as smtp,
        ticket_rig(
            ts_env,
            smtp_host=smtp.host,
            smtp_port=smtp.port,
            email_oncall_to=("oncall@example.test",),
        ) as rig,
    ):
        rig.hook.respond_with(400)  # 4xx other than 408/429: not retried
        sla = quick_sla(sev1={Clock.first_response: target(Clock.first_response, 600, warn=None)})
        handle = await rig.start(sla, subject="db down")
        await rig.env.sleep(timedelta(minutes=15))
        await smtp.wait_for(1)
        view = await _status(handle)
        breach = view.clocks[0].notifications[0]
        assert breach.event == "breach"
        assert breach.outcome == "partly_delivered"
        deliveries = dict(d.split(": ", 1) for d in breach.deliveries)
        assert deliveries["webhook"].startswith("failed")
        assert deliveries["email:oncall"].startswith("delivered")
        assert len(rig.hook.requests) == 1  # exactly one attempt
        mail = smtp.messages[0]
        assert mail["To"] == "oncall@example.test"
        assert "BREACH" in mail["Subject"] and "first_response" in mail["Subject"]
