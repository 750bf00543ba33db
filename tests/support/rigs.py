"""A ticket test rig on the time-skipping server: a real worker, a real webhook receiver.

Actions go in as Signals (the classic time-skipping server handles Updates poorly); the payload's
`occurred_at` is the workflow's virtual clock, so tests can assert when each notification fired.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from harness.receivers import WebhookReceiver
from plumbing.settings import Settings
from policies.snapshot import ResolvedSla
from tests.support import unique
from ticketclock.worker import build_worker
from workflows.contract import ticket_workflow_id
from workflows.messages import TicketInput, TicketView
from workflows.ticket import TicketWorkflow

SECRET = "webhook-test-secret"


@dataclasses.dataclass
class Rig:
    env: WorkflowEnvironment
    client: Client
    hook: WebhookReceiver
    task_queue: str
    handles: list[WorkflowHandle[Any, Any]] = dataclasses.field(default_factory=list)

    async def start(
        self, sla: ResolvedSla, *, opened_at: datetime | None = None, **kw: Any
    ) -> WorkflowHandle[TicketWorkflow, TicketView]:
        key = unique("K")
        opened = opened_at or await self.now()
        handle = await self.client.start_workflow(
            TicketWorkflow.run,
            TicketInput(key=key, sla=sla, opened_at=opened, **kw),
            id=ticket_workflow_id(key),
            task_queue=self.task_queue,
        )
        self.handles.append(handle)
        return handle

    async def terminate_all(self) -> None:
        """Tickets outlive their test; once its worker is gone their timers would leave workflow
        tasks nobody polls, and the time-skipping server would not skip past them."""
        for handle in self.handles:
            with contextlib.suppress(RPCError):
                await handle.terminate("test finished")

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    def events(self, handle: WorkflowHandle[Any, Any]) -> list[dict[str, Any]]:
        """The webhook payloads received for one ticket, in arrival order."""
        out = []
        for request in self.hook.requests:
            body = request.json()
            if body["workflow_id"] == handle.id:
                out.append(body)
        return out


def at(payload: dict[str, Any], name: str) -> datetime:
    return datetime.fromisoformat(payload[name].replace("Z", "+00:00"))


@contextlib.asynccontextmanager
async def ticket_rig(env: WorkflowEnvironment, **overrides: Any) -> AsyncIterator[Rig]:
    """`overrides` are worker Settings fields (SMTP, e-mail routes, ...)."""
    async with WebhookReceiver() as hook:
        settings = dataclasses.replace(
            Settings(),
            task_queue=unique("tq"),
            webhook_url=hook.url,
            webhook_secret=SECRET,
            **overrides,
        )
        async with build_worker(env.client, settings):
            rig = Rig(env, env.client, hook, settings.task_queue)
            try:
                yield rig
            finally:
                await rig.terminate_all()
