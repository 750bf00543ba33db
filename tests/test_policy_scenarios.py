"""One end-to-end scenario per seed policy, each step citing the clause it checks.

Real catalogue -> `resolve()` -> TicketWorkflow on the time-skipping server -> notifications to a
real webhook receiver. Expected business deadlines come from the minute-walking oracle in
tests/oracle.py, not from the engine under test.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from policies.catalog import load_catalog, resolve
from policies.customer import Customer
from policies.snapshot import Clock, ResolvedSla
from tests.support.oracle import add_business_minutes, whole_minute
from tests.support.rigs import Rig, at
from workflows.messages import (
    Acknowledge,
    AgentUpdate,
    AssignIncidentCommander,
    ClockCycle,
    CompleteIntake,
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
from workflows.ticket import TicketWorkflow

FIXTURES = Path(__file__).parent / "fixtures" / "policies"
WEEKDAYS_9_17 = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


async def _view(handle: WorkflowHandle[Any, Any]) -> TicketView:
    return await handle.query(TicketWorkflow.status)


def _cycles(view: TicketView, clock: Clock) -> list[ClockCycle]:
    return [c for c in view.clocks if c.clock == clock]


def _events(rig: Rig, handle: WorkflowHandle[Any, Any], clock: str) -> list[str]:
    return [e["event"] for e in rig.events(handle) if e["clock"] == clock]


def _hours(sla: ResolvedSla) -> dict[str, Any]:
    return {day: [list(iv) for iv in ivs] for day, ivs in sla.calendar.hours.items()}


async def test_004_confluence_health_check_sev1_incident(rig: Rig) -> None:
    opened = whole_minute(await rig.now())
    sla = resolve("confluence-health-check", "standard", "Sev-1", opened_at=opened)
    handle = await rig.start(sla, opened_at=opened, subject="wiki down")
    # 3. "Critical (Sev-1): initial response within 24 hours" (24x7) + "All Sev-1 ... require an
    # explicit next-update ETA in each customer response".
    await rig.env.sleep(timedelta(hours=2))
    now = await rig.now()
    await handle.signal(
        "acknowledge", Acknowledge(actor="a", next_update_eta=now + timedelta(hours=1))
    )
    await handle.signal("engineering_ack", EngineeringAck(actor="eng"))
    # 4. "Incident Commander is assigned ... within 15 minutes of engineering acknowledgement":
    # assigned 20 minutes later -> breach recorded (and Sev1 pages on-call).
    await rig.env.sleep(timedelta(minutes=20))
    await handle.signal(
        "assign_incident_commander", AssignIncidentCommander(actor="eng", commander="kim")
    )
    # 4. "Customer updates are posted at least every 60 minutes until mitigation": one on time...
    await rig.env.sleep(timedelta(minutes=30))
    now = await rig.now()
    await handle.signal(
        "agent_update", AgentUpdate(actor="a", next_update_eta=now + timedelta(hours=1))
    )
    # ... then one missed -> breach.
    await rig.env.sleep(timedelta(minutes=70))
    now = await rig.now()
    await handle.signal(
        "agent_update", AgentUpdate(actor="a", next_update_eta=now + timedelta(hours=1))
    )
    await handle.signal("mitigate", Mitigate(actor="a"))
    await rig.env.sleep(timedelta(minutes=5))
    await handle.signal("resolve", Resolve(actor="a", solution="restored"))
    await rig.env.sleep(timedelta(minutes=5))
    view = await _view(handle)

    first = _cycles(view, Clock.first_response)[0]
    assert first.status == CycleStatus.met and first.due_at == opened + timedelta(hours=24)
    ic = _cycles(view, Clock.incident_commander)[0]
    assert ic.status == CycleStatus.breached
    assert ic.due_at == ic.started_at + timedelta(minutes=15)
    updates = _cycles(view, Clock.next_update)
    assert [c.status for c in updates] == [
        CycleStatus.met,
        CycleStatus.breached,
        CycleStatus.stopped,
    ]
    assert updates[2].ended_reason == "mitigated"
    ic_breach = next(
        e
        for e in rig.events(handle)
        if e["clock"] == "incident_commander" and e["event"] == "breach"
    )
    assert ic_breach["page_oncall"] is True
    # 4. "Post-incident review is opened within 2 business days for Sev-1/Sev-2" (business hours
    # assumed Mon-Fri 09:00-17:00 UTC): due 16 business hours after mitigation.
    review = _cycles(view, Clock.post_incident_review)[0]
    started = review.started_at
    expected = add_business_minutes(whole_minute(started), 16 * 60, "UTC", WEEKDAYS_9_17)
    assert abs(review.due_at - expected) < timedelta(minutes=1)  # type: ignore[operator]
    await rig.env.sleep(timedelta(days=1))
    await handle.signal("open_review", OpenReview(actor="a", link="https://wiki/pir"))
    await rig.env.sleep(timedelta(minutes=1))
    view = await _view(handle)
    assert _cycles(view, Clock.post_incident_review)[0].status == CycleStatus.met
    assert _events(rig, handle, "post_incident_review") == ["met"]
    assert view.status == TicketStatus.resolved


async def test_001_clickhouse_basic_sev1_is_capped_to_sev3_and_breaches_on_nbh(rig: Rig) -> None:
    opened = whole_minute(await rig.now())
    sla = resolve("clickhouse", "basic", "1", opened_at=opened)
    # 3.b Limitations: "Basic Tier Customers are not entitled to Severity Level 1 or 2".
    assert sla.severity == "sev3" and sla.cap_reason and "Basic" in sla.cap_reason
    handle = await rig.start(sla, opened_at=opened)
    await rig.env.sleep(timedelta(days=5))
    view = await _view(handle)
    # 3.a Basic: "Severity Level 3 response time: 24 Normal Business Hours" (Mon 00:00 UTC to
    # Sat 00:00 UTC), nobody acted -> breached at exactly that instant.
    nbh = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    expected = add_business_minutes(opened, 24 * 60, "UTC", nbh)
    first = view.clocks[0]
    assert first.status == CycleStatus.breached and first.due_at == expected
    breach = next(e for e in rig.events(handle) if e["event"] == "breach")
    assert timedelta(0) <= at(breach, "occurred_at") - expected < timedelta(seconds=1)
    assert view.cap_reason == sla.cap_reason and view.severity_label == "Sev3"
    # 3.b Efforts: "All inbound production email cases shall have an initial status of Sev3".
    emailed = resolve("clickhouse", "scale", "sev2", channel="email", opened_at=opened)
    assert emailed.severity == "sev3"


async def test_002_kubeark_intake_gate_urgent_hour_and_escalation_window(rig: Rig) -> None:
    opened = whole_minute(await rig.now())
    sla = resolve("kubeark", "standard", "urgent", opened_at=opened)
    # 3.2: a valid Ticket must contain the listed fields; until then no SLA clock runs.
    handle = await rig.start(sla, opened_at=opened, intake={"description": "cluster down"})
    await rig.env.sleep(timedelta(hours=30))
    view = await _view(handle)
    assert view.status == TicketStatus.intake_incomplete and view.clocks == []
    fields = {f: "given" for f in sla.intake_required}
    await handle.signal("complete_intake", CompleteIntake(actor="customer", fields=fields))
    await rig.env.sleep(timedelta(seconds=1))
    view = await _view(handle)
    # 2.3 Support Plans: Urgent first response 1 hour, on Romanian Business Days (09:00-17:00
    # Europe/Bucharest assumed, Romanian public holidays).
    first = view.clocks[0]
    expected = add_business_minutes(
        whole_minute(first.started_at) + timedelta(minutes=1),
        60,
        "Europe/Bucharest",
        _hours(sla),
        sla.calendar.holidays,
    )
    assert first.due_at is not None and abs(first.due_at - expected) <= timedelta(minutes=1)
    await handle.signal("acknowledge", Acknowledge(actor="a"))
    await handle.signal("resolve", Resolve(actor="a", solution="final response"))
    # 3.5: escalation "within maximum 30 (thirty) days after receiving a final response".
    await rig.env.sleep(timedelta(days=10))
    await handle.signal("escalate", Escalate(actor="customer", reason="not addressed"))
    await rig.env.sleep(timedelta(days=21))
    await handle.signal("escalate", Escalate(actor="customer", reason="too late"))
    await rig.env.sleep(timedelta(seconds=1))
    view = await _view(handle)
    escalations = [e for e in view.events if e.action == "escalate"]
    assert [e.accepted for e in escalations] == [True, False]
    assert _cycles(view, Clock.escalation_window)[0].status == CycleStatus.expired
    assert _events(rig, handle, "escalation_window") == ["escalation"]
    # Only High/Urgent may escalate: a Normal ticket is refused (recorded, nothing changes).
    normal = await rig.start(
        resolve("kubeark", "standard", "normal", opened_at=opened), opened_at=opened, intake=fields
    )
    await normal.signal("resolve", Resolve(actor="a", solution="done"))
    await normal.signal("escalate", Escalate(actor="customer", reason="?"))
    await rig.env.sleep(timedelta(seconds=1))
    rejected = [e for e in (await _view(normal)).events if not e.accepted]
    assert rejected and "NotEntitled" in (rejected[0].detail or "")


async def test_000_confluent_premier_p1_and_developer_p3_in_customer_time_zone(rig: Rig) -> None:
    opened = whole_minute(await rig.now())
    # 1.5 Target Initial Response Times: Premier P1 "Within 30 minutes" (24x7).
    p1 = resolve(
        "confluent-cloud", "premier", "P1", Customer(timezone="Asia/Tokyo"), opened_at=opened
    )
    # Developer P3 "Within 8 Business Hours", Business Hours 9-5 Mon-Fri in the customer's zone.
    p3 = resolve(
        "confluent-cloud", "developer", "3", Customer(timezone="Asia/Tokyo"), opened_at=opened
    )
    urgent = await rig.start(p1, opened_at=opened)
    routine = await rig.start(p3, opened_at=opened)
    await rig.env.sleep(timedelta(hours=1))
    urgent_view, routine_view = await _view(urgent), await _view(routine)
    assert urgent_view.clocks[0].status == CycleStatus.breached
    assert urgent_view.clocks[0].due_at == opened + timedelta(minutes=30)
    # 75% warning (policy-wide assumption) then the breach, each exactly once.
    assert _events(rig, urgent, "first_response") == ["warning", "breach"]
    expected = add_business_minutes(opened, 8 * 60, "Asia/Tokyo", _hours(p3))
    assert routine_view.clocks[0].due_at == expected
    assert routine_view.timezone == "Asia/Tokyo"


async def test_003_kong_emea_customer_silence_reminds_then_closes(rig: Rig) -> None:
    catalog = load_catalog([str(FIXTURES)])
    opened = whole_minute(await rig.now())
    # (6) note *: the region of the Customer's address picks the time zone: EMEA -> London.
    sla = catalog.resolve("kong", "enterprise", "sev3", Customer(region="EMEA"), opened_at=opened)
    assert sla.calendar.timezone == "Europe/London"
    handle = await rig.start(sla, opened_at=opened)
    await handle.signal("request_customer_info", RequestCustomerInfo(actor="a", message="logs?"))
    await rig.env.sleep(timedelta(days=12))
    view = await _view(handle)
    # Kong: the ticket may close after 5 business days of customer silence (07:00-19:00
    # Mon-Fri, England bank holidays); reminders before, then auto-close.
    silence = _cycles(view, Clock.customer_silence)[0]
    assert silence.status == CycleStatus.expired and view.status == TicketStatus.closed
    expected = add_business_minutes(
        whole_minute(silence.started_at) + timedelta(minutes=1),
        5 * 12 * 60,
        "Europe/London",
        _hours(sla),
        sla.calendar.holidays,
    )
    assert silence.due_at is not None and abs(silence.due_at - expected) <= timedelta(minutes=1)
    events = _events(rig, handle, "customer_silence")
    assert events[-1] == "auto_close" and set(events[:-1]) == {"reminder"} and events[:-1]
