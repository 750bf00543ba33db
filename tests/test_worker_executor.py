"""CPU-heavy activities never run on the worker's event loop (issue 12 item 1).

A far-past ticket's deadline computation used to run inside an `async` activity: while it
counted business time from year 3, the event loop that runs every other ticket's timers and
webhooks was blocked. Here, on the real time-skipping server with the real worker
(`build_worker`), ticket A's deadline computation is held (inside the activity's own execution
context, exactly where its CPU work happens) until ticket B's notification activity has started
on the same worker. If the computation ran on the event loop, B could not start while A is held
and the hold would run out instead: the test asserts B started while A was still computing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio import client as temporal_client
from temporalio import worker as temporal_worker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from policies.snapshot import Clock
from tests.support.rigs import ticket_rig
from tests.support.slas import quick_sla, target

# Only breaks a deadlock on the old code (below the deadline activity's 10 s timeout);
# nothing is asserted about how long anything took.
HOLD_S = 8.0


class HoldDeadline(temporal_client.Interceptor, temporal_worker.Interceptor):
    """Holds the deadline computation of tickets opened before year 1000 until another activity
    (not a deadline computation) has started on the same worker."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.done = threading.Event()
        self.other_started = threading.Event()
        self.released_by_other: bool | None = None
        self.computing_threads: list[str] = []

    def intercept_activity(
        self, next: temporal_worker.ActivityInboundInterceptor
    ) -> temporal_worker.ActivityInboundInterceptor:
        return _Inbound(next, self)


class _Inbound(temporal_worker.ActivityInboundInterceptor):
    def __init__(
        self, next: temporal_worker.ActivityInboundInterceptor, hold: HoldDeadline
    ) -> None:
        super().__init__(next)
        self._hold = hold

    async def execute_activity(self, input: temporal_worker.ExecuteActivityInput) -> Any:
        hold = self._hold
        if activity.info().activity_type != "compute_deadline":
            hold.other_started.set()
            return await super().execute_activity(input)
        started = getattr(input.args[0] if input.args else None, "started_at", None)
        if started is None or started.year >= 1000 or hold.entered.is_set():
            return await super().execute_activity(input)
        fn = input.fn

        def wait() -> None:  # runs where the computation's own CPU work runs
            hold.computing_threads.append(threading.current_thread().name)
            hold.entered.set()
            hold.released_by_other = hold.other_started.wait(HOLD_S)
            hold.done.set()

        held: Callable[..., Any]
        if inspect.iscoroutinefunction(fn):

            async def held(*args: Any) -> Any:
                wait()
                return await fn(*args)

        else:

            def held(*args: Any) -> Any:
                wait()
                return fn(*args)

        return await super().execute_activity(dataclasses.replace(input, fn=held))


class _EnvWithClient:
    """The session's time-skipping environment, seen through a client carrying the hold (a
    client interceptor that is also a worker interceptor is used by every worker of the client).
    """

    def __init__(self, env: WorkflowEnvironment, client: Client) -> None:
        self._env = env
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


async def test_far_past_deadline_computation_does_not_block_other_tickets(
    ts_env: WorkflowEnvironment,
) -> None:
    hold = HoldDeadline()
    config = ts_env.client.config()
    config["interceptors"] = [hold]
    client = Client(**config)
    env: Any = _EnvWithClient(ts_env, client)
    nine_to_five = {d: (("09:00", "17:00"),) for d in ("mon", "tue", "wed", "thu", "fri")}
    business = {Clock.first_response: target(Clock.first_response, 3600, business=True)}
    async with ticket_rig(env) as rig:
        # Ticket A, opened in year 3: its deadline computation counts two millennia.
        a = await rig.start(
            quick_sla(sev1=business, hours=nine_to_five), opened_at=datetime(3, 1, 3, tzinfo=UTC)
        )
        assert await asyncio.to_thread(hold.entered.wait, 30)
        # Ticket B, already past its target: its breach notification is due at once.
        b = await rig.start(quick_sla(), opened_at=await rig.now() - timedelta(days=1))
        assert await asyncio.to_thread(hold.done.wait, 30)
        for _ in range(20):
            if rig.events(a) and rig.events(b):
                break
            await rig.env.sleep(timedelta(seconds=5))

        # B's notification activity started while A's computation was still running...
        assert hold.released_by_other is True
        # ...because the computation runs on the worker's activity threads, not its event loop.
        assert hold.computing_threads
        assert all(name.startswith("ticketclock-activity") for name in hold.computing_threads)
        # and both tickets were served: A breached in year 3, B a day ago.
        assert [e["event"] for e in rig.events(b)] == ["breach"]
        assert [e["event"] for e in rig.events(a)] == ["breach"]
