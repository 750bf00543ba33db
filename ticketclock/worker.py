"""The ticketclock worker: runs `TicketWorkflow` and its activities on the configured task queue.

Stateless: run as many as you like against one cluster (`docker compose up --scale worker=N`);
Temporal spreads the tickets' tasks over them.
"""

from __future__ import annotations

import asyncio
import compileall
import concurrent.futures
import inspect
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
    Worker,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import metrics
from activities.notify import Notifier
from plumbing import telemetry
from plumbing.settings import Settings
from plumbing.temporal_client import TemporalConnectError, connect, describe

log = logging.getLogger("ticketclock.worker")

# Pure, deterministic modules the workflow imports: passed through the sandbox instead of being
# re-imported for every workflow run (re-importing pydantic models triples the CPU per task).
PASSTHROUGH_MODULES = (
    "policies",
    "pydantic",
    "pydantic_core",
    "workflows.messages",
    "workflows.contract",
    # The pure rules core (issue 11): every module of workflows/ but the workflow itself.
    "workflows.keys",
    "workflows.rules",
    "workflows.actions",
    "workflows.core",
    "workflows.views",
)

# How long `run_worker` keeps retrying the first connection (the server may still be starting).
CONNECT_PATIENCE_S = 60.0


def cache_workflow_bytecode(workflow_classes: list[type]) -> list[str]:
    """Write the `.pyc` files of the modules the sandbox re-imports for every workflow run.

    The sandbox imports each workflow's module afresh for every new run (and for every replay).
    Without a bytecode cache, as under PYTHONDONTWRITEBYTECODE=1 (common in containers and set
    on our CI machines), that means compiling `workflows/ticket.py` from source each time: about
    12 ms of worker CPU per new ticket. `py_compile` writes regardless of that variable; a source
    tree we may not write to is left as it is. Returns the modules whose bytecode is current.
    """
    cached: list[str] = []
    for cls in workflow_classes:
        parts = cls.__module__.split(".")
        # The workflow's module and the packages above it (their `__init__` runs on import too).
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            path = getattr(sys.modules.get(name), "__file__", None)
            if path and name not in cached and compileall.compile_file(path, quiet=2):
                cached.append(name)
    return cached


def workflow_runner() -> SandboxedWorkflowRunner:
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    )


# Threads for synchronous activities (the deadline computation): at most this many run at once.
ACTIVITY_THREADS = 8


def build_worker(client: Client, settings: Settings, *, notifier: Notifier | None = None) -> Worker:
    """The worker for `settings.task_queue`: the ticket workflow and its activities.

    Notification endpoints and secrets come from `settings` (the worker's environment), never from
    workflow input, which is recorded in history. Pass `notifier` to close its HTTP client later.
    """
    from activities.deadlines import compute_deadline
    from workflows.ticket import TicketWorkflow

    cache_workflow_bytecode([TicketWorkflow])
    notifier = notifier or Notifier(settings)
    activities: list[Callable[..., Any]] = [compute_deadline, notifier.route, notifier.deliver]
    executor = None
    if not all(inspect.iscoroutinefunction(a) for a in activities):
        # Synchronous (CPU-bound) activities, `compute_deadline` included, run on this bounded
        # pool; async ones (webhooks, e-mail) on the event loop, which CPU work never blocks.
        executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=ACTIVITY_THREADS, thread_name_prefix="ticketclock-activity"
        )
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[TicketWorkflow],
        activities=activities,
        activity_executor=executor,
        workflow_runner=workflow_runner(),
        # Failover (the reasons: plumbing/settings.py, README): a killed worker's tickets move to
        # the others after the sticky timeout; a stopping one hands them over at once.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=settings.worker_sticky_timeout_s),
        graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_s),
        interceptors=[*telemetry.worker_interceptors(client), ActivityHeartbeats()],
    )


class ActivityHeartbeats(Interceptor):
    """Every async activity scheduled with a heartbeat timeout heartbeats while it runs (a quarter
    of that timeout apart, at most 0.5 s), so when its worker dies (`kill -9`) the server retries
    it on another worker after the heartbeat timeout instead of the start-to-close timeout: a
    webhook cut off by a kill arrived 31 s late with the 30 s delivery timeout, 3-8 s with a 2 s
    heartbeat timeout (drills/failover.py). The workflow chooses the heartbeat timeout."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Heartbeating(next)


class _Heartbeating(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        timeout = info.heartbeat_timeout
        if info.is_local or not timeout or not inspect.iscoroutinefunction(input.fn):
            return await super().execute_activity(input)
        every = min(0.5, timeout.total_seconds() / 4)

        async def beat() -> None:
            while True:
                activity.heartbeat()
                await asyncio.sleep(every)

        beating = asyncio.create_task(beat())
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting the SDK's metrics for Prometheus, when a port is configured.

    Bound to TICKETCLOCK_API_HOST's interface (127.0.0.1 by default; 0.0.0.0 in containers).
    """
    if settings.metrics_port is None:
        return None
    address = f"{settings.api_host}:{settings.metrics_port}"
    log.info("SDK metrics on http://%s/metrics", address)
    prometheus = PrometheusConfig(
        bind_address=address, histogram_bucket_overrides=metrics.HISTOGRAM_BUCKETS
    )
    return Runtime(telemetry=TelemetryConfig(metrics=prometheus))


async def connect_patiently(
    settings: Settings, runtime: Runtime | None, patience_s: float = CONNECT_PATIENCE_S
) -> Client:
    """`connect`, retried with backoff for a while: a worker may start before its server."""
    deadline = time.monotonic() + patience_s
    delay = 0.5
    while True:
        try:
            return await connect(settings, runtime=runtime)
        except TemporalConnectError as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("%s; retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, then stop gracefully (in-flight activities get a grace period).

    Raises whatever stops the worker on its own (an unknown namespace, a lost server...), so the
    caller can exit non-zero and a supervisor or orchestrator restarts it.
    """
    telemetry.configure_tracing(telemetry.WORKER_SERVICE)
    runtime = metrics_runtime(settings)
    client = await connect_patiently(settings, runtime)
    notifier = Notifier(settings)
    worker = build_worker(client, settings, notifier=notifier)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        running = asyncio.create_task(worker.run())
        stopping = asyncio.create_task(stop.wait())
        log.info("worker polling task queue %r on %s", settings.task_queue, describe(settings))
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running.done():
            stopping.cancel()
            running.result()  # re-raises why the worker stopped
            raise RuntimeError("worker stopped unexpectedly")
        log.info(
            "stopping: finishing in-flight tasks (up to %ss)", settings.worker_shutdown_grace_s
        )
        await worker.shutdown()
        await running
        log.info("worker stopped")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await notifier.aclose()
