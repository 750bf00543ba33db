"""Updates, refusals, search attributes and what the UI shows, against the real dev server."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from plumbing.settings import Settings
from policies.snapshot import Clock, ResolvedSla
from tests.support import unique
from tests.support.slas import quick_sla, target
from ticketclock.worker import build_worker
from workflows.contract import ticket_workflow_id
from workflows.messages import (
    Acknowledge,
    AgentUpdate,
    ChangeSeverity,
    Close,
    CompleteIntake,
    CycleStatus,
    Reopen,
    Resolve,
    TicketInput,
    TicketStatus,
)
from workflows.ticket import BREACH_OVERDUE_PATCH, TicketWorkflow
from workflows.updates import execute_action
from workflows.views import CELL_GAP


@dataclasses.dataclass
class Desk:
    client: Client
    task_queue: str
    handles: list[WorkflowHandle[Any, Any]] = dataclasses.field(default_factory=list)

    async def open(self, sla: ResolvedSla, **kw: Any) -> WorkflowHandle[TicketWorkflow, Any]:
        key = unique("U")
        handle = await self.client.start_workflow(
            TicketWorkflow.run,
            TicketInput(key=key, sla=sla, opened_at=datetime.now(UTC), **kw),
            id=ticket_workflow_id(key),
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        return handle


@pytest.fixture
async def desk(dev_env: WorkflowEnvironment) -> AsyncIterator[Desk]:
    settings = dataclasses.replace(Settings(), task_queue=unique("tq"))
    async with build_worker(dev_env.client, settings):
        d = Desk(dev_env.client, settings.task_queue)
        yield d
        for handle in d.handles:
            await handle.terminate("test finished")


async def _refusal(coro: Any) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await coro
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


def _long() -> ResolvedSla:
    return quick_sla(
        sev1={
            Clock.first_response: target(Clock.first_response, 3600),
            Clock.next_update: target(Clock.next_update, 3600),
        },
        sev3={Clock.first_response: target(Clock.first_response, 4 * 3600)},
        eta_required=True,
    )


async def test_update_returns_new_state_with_deadlines(desk: Desk) -> None:
    handle = await desk.open(_long())
    eta = datetime.now(UTC) + timedelta(minutes=30)
    view = await execute_action(handle, Acknowledge(actor="agent:a", next_update_eta=eta))
    assert view.status == TicketStatus.in_progress
    first, update = view.clocks
    assert first.clock == Clock.first_response and first.status == CycleStatus.met
    assert update.clock == Clock.next_update and update.status == CycleStatus.running
    # The promised ETA is earlier than the 60-minute maximum, so it is the deadline.
    assert update.due_at == eta
    assert view.next_deadline == eta and view.next_deadline_clock == "next_update"


async def test_refusals_have_stable_types_and_never_enter_history(desk: Desk) -> None:
    handle = await desk.open(_long())
    refusal = await _refusal(execute_action(handle, Acknowledge(actor="a")))
    assert refusal.type == "EtaRequired" and "next_update_eta" in refusal.message
    refusal = await _refusal(
        execute_action(handle, ChangeSeverity(actor="a", severity="p9", reason="x"))
    )
    assert refusal.type == "UnknownSeverity"
    refusal = await _refusal(execute_action(handle, Reopen(actor="a", reason="x")))
    assert refusal.type == "NotResolved"
    await execute_action(handle, Close(actor="a"))
    refusal = await _refusal(
        execute_action(
            handle,
            AgentUpdate(actor="a", next_update_eta=datetime.now(UTC) + timedelta(hours=1)),
        )
    )
    assert refusal.type == "TicketClosed"
    history = await handle.fetch_history()
    accepted = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]
    # Only the close was accepted: validators rejected the rest before anything was written.
    assert len(accepted) == 1
    view = await handle.query(TicketWorkflow.status)
    assert [e.action for e in view.events if e.via == "update"] == ["close"]


async def test_actions_record_the_breach_overdue_patch(desk: Desk) -> None:
    # New tickets take actions under the rule that breaches overdue cycles first, and say so in
    # their history (a patch marker), so a replay of an older history keeps the older rule.
    handle = await desk.open(_long())
    eta = datetime.now(UTC) + timedelta(minutes=30)
    await execute_action(handle, Acknowledge(actor="agent:a", next_update_eta=eta))
    history = await handle.fetch_history()
    patches = [
        e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert any(BREACH_OVERDUE_PATCH.encode() in data for data in patches), patches


async def test_an_unknown_or_malformed_update_is_refused_before_history(desk: Desk) -> None:
    # Every action arrives through one dynamic Update handler, which decodes the payload with
    # the action table's model for its name: anything else is refused by its validator.
    handle = await desk.open(_long())
    unknown = await _refusal(handle.execute_update("acknowledg", {"actor": "a"}))
    assert unknown.type == "UnknownAction" and "acknowledg" in unknown.message
    malformed = await _refusal(handle.execute_update("acknowledge", {"actr": "a"}))
    assert malformed.type == "InvalidPayload" and "actor" in malformed.message
    history = await handle.fetch_history()
    assert not [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


async def test_not_entitled_severity_is_refused(desk: Desk) -> None:
    sla = _long()
    terms = list(sla.severities)
    terms[0] = terms[0].model_copy(
        update={"entitled": False, "not_entitled_reason": "Gold is not entitled to Sev1"}
    )
    capped = sla.model_copy(
        update={"severities": tuple(terms), "severity": "sev3", "requested_severity": "sev1"}
    )
    handle = await desk.open(capped)
    refusal = await _refusal(
        execute_action(handle, ChangeSeverity(actor="a", severity="1", reason="x"))
    )
    assert refusal.type == "NotEntitled" and "Gold is not entitled" in refusal.message


async def test_intake_gate_holds_the_clock_until_complete(desk: Desk) -> None:
    handle = await desk.open(_long(), intake={"description": "broken"})
    handle2 = await desk.open(
        quick_sla(intake=("description", "platform_version")), intake={"description": "broken"}
    )
    view = await handle2.query(TicketWorkflow.status)
    assert view.status == TicketStatus.intake_incomplete and view.clocks == []
    refusal = await _refusal(execute_action(handle2, CompleteIntake(actor="a")))
    assert refusal.type == "IntakeIncomplete" and "platform_version" in refusal.message
    view = await execute_action(
        handle2,
        CompleteIntake(actor="a", fields={"platform_version": "2.4"}),
    )
    assert view.status == TicketStatus.awaiting_first_response
    assert [c.clock for c in view.clocks] == [Clock.first_response]
    # Measured from completion, not from opening.
    assert view.clocks[0].started_at > view.opened_at
    assert (
        await handle.query(TicketWorkflow.status)
    ).status == TicketStatus.awaiting_first_response


async def test_reopen_inside_window_then_refused_after(desk: Desk) -> None:
    handle = await desk.open(quick_sla(reopen_window=timedelta(seconds=3)))
    await execute_action(handle, Resolve(actor="a", solution="fixed"))
    view = await execute_action(handle, Reopen(actor="c", reason="back"))
    assert view.status == TicketStatus.in_progress
    await execute_action(handle, Resolve(actor="a", solution="fixed"))
    await asyncio.sleep(3.5)
    refusal = await _refusal(execute_action(handle, Reopen(actor="c", reason="again")))
    assert refusal.type == "ReopenWindowClosed"


async def test_search_attributes_summaries_and_details_for_operators(
    desk: Desk, dev_env: WorkflowEnvironment
) -> None:
    sla = quick_sla(sev1={Clock.first_response: target(Clock.first_response, 2, warn=None)})
    breached = await desk.open(sla)
    calm = await desk.open(_long())
    # Wait (bounded) for the 2-second clock to breach and visibility to catch up.
    query = f'SlaBreached = true AND TaskQueue = "{desk.task_queue}"'
    found: list[str] = []
    for _ in range(60):
        found = [w.id async for w in dev_env.client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.25)
    assert found == [breached.id]
    described = await breached.describe()
    attrs = described.typed_search_attributes
    assert {p.key.name: p.value for p in attrs}["SlaBreachedClocks"] == ["first_response"]
    calm_attrs = {p.key.name: p.value for p in (await calm.describe()).typed_search_attributes}
    assert calm_attrs["TicketState"] == "awaiting_first_response"
    assert calm_attrs["SlaBreached"] is False
    assert isinstance(calm_attrs["SlaNextDeadline"], datetime)
    # Timer summaries a person can read, recorded in history (the UI's timeline shows them).
    history = await calm.fetch_history()
    summaries = [
        await _summary(dev_env.client, e)
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert any(
        s.startswith("first_response warning (50%) at ") and "America/Chicago — Sev1, 3600s" in s
        for s in summaries
    ), summaries
    # The current-details table, served by the live worker (what the UI's "Current Details" shows).
    metadata = await calm.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "| first_response | 1 | running |" in metadata.current_details.replace(CELL_GAP, "")


async def _summary(client: Client, event: Any) -> str:
    payload = event.user_metadata.summary
    decoded = client.data_converter.payload_converter.from_payloads([payload], [str])
    return str(decoded[0])


async def test_explain_names_calendar_severity_and_policy(desk: Desk) -> None:
    hours = {d: (("09:00", "17:00"),) for d in ("mon", "tue", "wed", "thu", "fri")}
    sla = quick_sla(
        sev1={Clock.first_response: target(Clock.first_response, 4 * 3600, business=True)},
        hours=hours,
    )
    handle = await desk.open(sla)
    await handle.query(TicketWorkflow.status)
    for _ in range(40):
        explanation = await handle.query(TicketWorkflow.explain, "first_response")
        if explanation.due_at is not None:
            break
        await asyncio.sleep(0.1)
    assert explanation.business and explanation.calendar == "test"
    assert explanation.timezone == "America/Chicago" and explanation.severity_label == "Sev1"
    assert "business clock on calendar 'test'" in explanation.text
    assert "version 2026-01-01" in explanation.text
    assert explanation.hours["mon"] == [["09:00", "17:00"]]
