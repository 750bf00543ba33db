"""Record representative ticket histories for the replay drill (`tests/histories/*.json`).

    python -m drills.record_histories [--out tests/histories] [--target 4]

Runs a handful of tickets on a fresh dev server with the `drill-seconds` policy (every clock
`--target` seconds, Sev3 twice that) and a real worker delivering to a webhook receiver, so each
history holds timers that fired, notifications delivered, Updates, Signals (one refused), a
severity change and a continue-as-new. Each history is saved with `fetch_history().to_json()` as
`<workflow id>[.<run>].json`; `drills/replay.py` replays them with today's code. Re-record only on
purpose (a deliberate, versioned change to the workflow): the old files are what running tickets
look like.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import WorkflowHandle

from harness.stack import POLICY_ID, ROOT, TIER, Stack, open_stack
from workflows.contract import ticket_workflow_id
from workflows.messages import (
    Acknowledge,
    Action,
    AgentUpdate,
    AssignIncidentCommander,
    ChangeSeverity,
    CompleteReview,
    CustomerReply,
    EngineeringAck,
    Escalate,
    Migrate,
    Mitigate,
    OpenReview,
    RequestCustomerInfo,
    Resolve,
    TicketView,
)
from workflows.ticket import TicketWorkflow
from workflows.updates import execute_action

Handle = WorkflowHandle[TicketWorkflow, TicketView]
WAIT_S = 60.0


async def _wait_for(stack: Stack, key: str, suffix: str, timeout: float = WAIT_S) -> None:
    """Until the receiver has the notification `<workflow id>:<suffix>`."""
    assert stack.receiver is not None
    wanted = f"{ticket_workflow_id(key)}:{suffix}"
    end = time.monotonic() + timeout
    while wanted not in stack.receiver.seen_keys():
        if time.monotonic() > end:
            raise TimeoutError(f"{wanted} never arrived")
        await asyncio.sleep(0.2)


async def _settle(handle: Handle, timeout: float = 20.0) -> None:
    """Until every clock has its deadline and every delivery is done (bounded)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        view = await handle.query(TicketWorkflow.status)
        settled = all(c.computed_revision == c.revision for c in view.clocks if c.active)
        pending = any(n.outcome == "pending" for c in view.clocks for n in c.notifications)
        if settled and not pending:
            return
        await asyncio.sleep(0.2)


Scenario = Callable[[Stack, str, float], Awaitable[list[Handle]]]


async def first_response_breach(stack: Stack, key: str, target: float) -> list[Handle]:
    """Nobody answers: the 75% warning, then the breach."""
    handle = await stack.open_ticket(key, stack.resolve("sev1"), subject="nobody answers")
    await _wait_for(stack, key, "first_response:1:breach")
    return [handle]


async def next_update_with_pause(stack: Stack, key: str, target: float) -> list[Handle]:
    """Acknowledged (met), then waiting on the customer pauses next_update; the reply resumes
    it; an update restarts the cadence, which then breaches."""
    handle = await stack.open_ticket(key, stack.resolve("sev1"))
    agent = "agent:jane"
    await execute_action(handle, Acknowledge(actor=agent, message="on"))
    await execute_action(handle, RequestCustomerInfo(actor=agent, message="logs?"))
    await asyncio.sleep(1.0)
    await execute_action(handle, CustomerReply(actor="customer:acme", message="here"))
    await execute_action(handle, AgentUpdate(actor=agent, message="x"))
    await _wait_for(stack, key, "next_update:2:breach")
    return [handle]


async def customer_silence_autoclose(stack: Stack, key: str, target: float) -> list[Handle]:
    """The agent asks, the customer never replies: reminders, then the auto-close."""
    handle = await stack.open_ticket(key, stack.resolve("sev1"))
    agent = "agent:jane"
    await execute_action(handle, Acknowledge(actor=agent))
    await execute_action(handle, RequestCustomerInfo(actor=agent, message="logs?"))
    await _wait_for(stack, key, "customer_silence:1:auto_close")
    return [handle]


async def incident_lifecycle(stack: Stack, key: str, target: float) -> list[Handle]:
    """Engineering ack starts incident_commander (met by an assignment); mitigation starts the
    post-incident review clock; resolution opens the escalation window; an escalation inside it
    notifies; the review is opened and completed; the window then expires."""
    handle = await stack.open_ticket(key, stack.resolve("sev1"), subject="an incident")
    agent = "agent:jane"
    steps: list[Action] = [
        Acknowledge(actor=agent),
        EngineeringAck(actor="eng:maria", note="looking"),
        AssignIncidentCommander(actor="eng:maria", commander="eng:ic"),
        Mitigate(actor=agent, note="rolled back"),
        Resolve(actor=agent, solution="fixed the config"),
        Escalate(actor="customer:acme", reason="fix did not hold"),
        OpenReview(actor="lead:bo", link="https://example.invalid"),
        CompleteReview(actor="lead:bo"),
    ]
    for body in steps:
        await execute_action(handle, body)
    # The escalation window (no warnings) ends by itself: wait until the ledger says so.
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        view = await handle.query(TicketWorkflow.status)
        if any(c.clock == "escalation_window" and c.status == "expired" for c in view.clocks):
            break
        await asyncio.sleep(0.25)
    else:
        raise TimeoutError(f"{key}: the escalation window never expired")
    return [handle]


async def severity_change(stack: Stack, key: str, target: float) -> list[Handle]:
    """Sev3 raised to Sev1 (recomputed from the original start, keeping elapsed time) and then
    lowered again; the first response breaches on the Sev3 deadline."""
    handle = await stack.open_ticket(key, stack.resolve("sev3"))
    await execute_action(
        handle,
        ChangeSeverity(actor="agent:jane", severity="sev1", reason="outage widened"),
    )
    await asyncio.sleep(0.5)
    await execute_action(
        handle,
        ChangeSeverity(actor="agent:jane", severity="sev3", reason="workaround found"),
    )
    await _wait_for(stack, key, "first_response:1:breach")
    return [handle]


async def signals(stack: Stack, key: str, target: float) -> list[Handle]:
    """The same actions as Signals: one accepted, one refused (recorded as rejected)."""
    handle = await stack.open_ticket(key, stack.resolve("sev1"))
    await handle.signal("acknowledge", Acknowledge(actor="agent:jane"))
    await handle.signal("acknowledge", Acknowledge(actor="agent:jane"))
    await handle.signal("agent_update", AgentUpdate(actor="agent:jane"))
    await _settle(handle)
    await _wait_for(stack, key, "next_update:2:warning:1")
    return [handle]


async def continue_as_new(stack: Stack, key: str, target: float) -> list[Handle]:
    """A ticket forced to continue as new early (the test knob), with clocks running across
    the boundary: both runs are recorded."""
    handle = await stack.open_ticket(key, stack.resolve("sev1"), continue_as_new_after_events=60)
    first_run = (await handle.describe()).run_id
    agent = "agent:jane"
    await execute_action(handle, Acknowledge(actor=agent))
    for n in range(12):
        await execute_action(handle, AgentUpdate(actor=agent, message=f"update {n}"))
        if (await handle.describe()).run_id != first_run:
            break
    else:
        raise RuntimeError(f"{key}: never continued as new")
    latest = stack.client.get_workflow_handle(handle.id)
    await _wait_for(stack, key, "first_response:1:met")
    await asyncio.sleep(target * 1.2)  # a timer of the new run fires too
    await _settle(latest)
    first = stack.client.get_workflow_handle(handle.id, run_id=first_run)
    return [first, latest]


async def opened_over_http(stack: Stack, key: str, target: float) -> list[Handle]:
    """The front door's path: `POST /v1/tickets` (update-with-start: the `opened` Update rides
    on the start), then an acknowledgement over HTTP meets the first response."""
    async with stack.http() as http:
        body = {"key": key, "policy": POLICY_ID, "tier": TIER, "severity": "sev1"}
        created = await http.post("/v1/tickets", json=body)
        if created.status_code != 201:
            raise RuntimeError(f"{key}: create answered {created.status_code} {created.text}")
        acked = await http.post(f"/v1/tickets/{key}/acknowledge", json={"actor": "agent:jane"})
        if acked.status_code != 200:
            raise RuntimeError(f"{key}: acknowledge answered {acked.status_code} {acked.text}")
    await _wait_for(stack, key, "first_response:1:met")
    handle: Handle = stack.client.get_workflow_handle(ticket_workflow_id(key))
    await _settle(handle)
    return [handle]


async def migrate(stack: Stack, key: str, target: float) -> list[Handle]:
    """Issue 17: the `migrate` Update moves the ticket to another version (here the same
    catalogue terms under a new version string) from now: the running first response restarts,
    the ledger records old and new deadlines, and the restarted clock then breaches."""
    sla = stack.resolve("sev1")
    handle = await stack.open_ticket(key, sla)
    await _settle(handle)
    new = sla.model_copy(update={"policy_version": f"{sla.policy_version}+migrated"})
    await handle.execute_update(
        "migrate",
        Migrate(
            actor="ops:lee",
            to_version=new.policy_version,
            reason="new contract",
            mode="from_now",
            sla=new,
        ),
    )
    await _wait_for(stack, key, "first_response:1:breach")
    await _settle(handle)
    return [handle]


SCENARIOS: dict[str, Scenario] = {
    "opened-over-http": opened_over_http,
    "first-response-breach": first_response_breach,
    "next-update-pause": next_update_with_pause,
    "customer-silence": customer_silence_autoclose,
    "incident": incident_lifecycle,
    "severity-change": severity_change,
    "signals": signals,
    "continue-as-new": continue_as_new,
    "migrate": migrate,
}


async def record(out: Path, target: float, only: list[str]) -> list[Path]:
    written: list[Path] = []
    async with open_stack(policy_seconds=target, api=True, log=lambda s: print(f"  {s}")) as stack:
        chosen = {name: fn for name, fn in SCENARIOS.items() if not only or name in only}
        results = await asyncio.gather(
            *(fn(stack, f"HIST-{name}", target) for name, fn in chosen.items())
        )
        out.mkdir(parents=True, exist_ok=True)
        for name, handles in zip(chosen, results, strict=True):
            for i, handle in enumerate(handles):
                history = await handle.fetch_history()
                suffix = f".{i + 1}" if len(handles) > 1 else ""
                path = out / f"{handle.id}{suffix}.json"
                path.write_text(history.to_json())
                written.append(path)
                print(f"  {name}: {path.name} ({len(history.events)} events)")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "histories")
    parser.add_argument("--target", type=float, default=4.0, help="every clock, in seconds")
    parser.add_argument("--only", nargs="*", default=[], choices=sorted(SCENARIOS))
    args = parser.parse_args(argv)
    written = asyncio.run(record(args.out, args.target, args.only))
    print(f"record_histories: files={len(written)} out={args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
