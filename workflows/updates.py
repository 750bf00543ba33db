"""Sending an action to a ticket as an Update, from any client (the API, the CLI's tools, drills).

The workflow answers every action through one dynamic Update handler (workflows/ticket.py), so a
caller names the Update by the action table's entry for the payload's type and says what comes
back; this is the one place that does both.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import WorkflowHandle

from workflows.actions import RULES
from workflows.messages import Action, TicketView


def update_name(action: Action) -> str:
    """The Update (and Signal) name of `action`: its entry in workflows/actions.py."""
    return RULES[type(action)].update


async def execute_action(
    handle: WorkflowHandle[Any, Any],
    action: Action,
    *,
    id: str | None = None,
    rpc_timeout: timedelta | None = None,
) -> TicketView:
    """Run `action` as an Update and return the ticket as it answered (a refusal raises
    `WorkflowUpdateFailedError` with the refusal's type and sentence)."""
    view: TicketView = await handle.execute_update(
        update_name(action), action, id=id, result_type=TicketView, rpc_timeout=rpc_timeout
    )
    return view
