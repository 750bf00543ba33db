"""The worker heartbeats long async activities for them (`ActivityHeartbeats`), so a heartbeat
timeout (how fast a dead worker's activity is retried elsewhere) never cuts off a live one."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, TimeoutError, TimeoutType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker

from activities.notify import Notifier
from plumbing.settings import Settings
from ticketclock.worker import ActivityHeartbeats, build_worker

SLOW_S = 2.5  # the activity runs longer than its heartbeat timeout, without heartbeating itself
HEARTBEAT_TIMEOUT = timedelta(seconds=1)


@activity.defn
async def slow_call() -> str:
    await asyncio.sleep(SLOW_S)
    return "answered"


@workflow.defn(sandboxed=False)
class SlowCall:
    @workflow.run
    async def run(self) -> str:
        result: str = await workflow.execute_activity(
            slow_call,
            start_to_close_timeout=timedelta(seconds=30),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
        return result


async def _run_slow_call(env: WorkflowEnvironment, interceptors: list[Interceptor]) -> str:
    queue = f"heartbeats-{uuid.uuid4().hex[:8]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[SlowCall],
        activities=[slow_call],
        interceptors=interceptors,
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        return await env.client.execute_workflow(
            SlowCall.run, id=f"slow-{uuid.uuid4().hex}", task_queue=queue
        )


async def test_a_live_activity_outlasts_its_heartbeat_timeout(dev_env: WorkflowEnvironment) -> None:
    assert await _run_slow_call(dev_env, [ActivityHeartbeats()]) == "answered"


async def test_without_it_the_same_activity_times_out(dev_env: WorkflowEnvironment) -> None:
    """The control: the test above can fail."""
    with pytest.raises(WorkflowFailureError) as err:
        await _run_slow_call(dev_env, [])
    cause = err.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, TimeoutError)
    assert cause.cause.type == TimeoutType.HEARTBEAT


async def test_the_ticketclock_worker_heartbeats(dev_env: WorkflowEnvironment) -> None:
    settings = Settings(task_queue=f"heartbeats-{uuid.uuid4().hex[:8]}")
    notifier = Notifier(settings)
    try:
        async with build_worker(dev_env.client, settings, notifier=notifier) as worker:
            config = worker.config()
    finally:
        await notifier.aclose()
    assert any(isinstance(i, ActivityHeartbeats) for i in config["interceptors"])
