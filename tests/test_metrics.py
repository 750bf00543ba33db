"""SLA metrics are recorded by the activities and scraped from the Prometheus endpoint of the SDK
runtime the worker builds (`metrics_runtime`): activity by activity in an ActivityEnvironment, and
end to end from a real worker on the dev server."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities import metrics
from activities.deadlines import compute_deadline
from activities.notify import Notifier
from harness.receivers import WebhookReceiver
from plumbing.processes import free_port
from plumbing.settings import Settings
from policies.snapshot import Clock, ResolvedSla
from tests.support import unique
from tests.support.slas import quick_sla, target
from ticketclock.worker import build_worker, metrics_runtime
from workflows.contract import ticket_workflow_id
from workflows.messages import (
    CycleStatus,
    DeadlineRequest,
    DeliveryRequest,
    NotificationRequest,
    TicketInput,
)
from workflows.ticket import TicketWorkflow

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Scraper:
    """The `/metrics` endpoint of one SDK runtime, parsed into (name, labels, value) samples."""

    def __init__(self, runtime: Runtime, port: int) -> None:
        self.runtime = runtime
        self.url = f"http://127.0.0.1:{port}/metrics"

    async def samples(self) -> list[tuple[str, dict[str, str], float]]:
        async with httpx.AsyncClient() as http:
            text = (await http.get(self.url, timeout=5)).text
        found = []
        for line in text.splitlines():
            match = _SAMPLE.match(line)
            if match and not line.startswith("#"):
                labels = dict(_LABEL.findall(match["labels"] or ""))
                found.append((match["name"], labels, float(match["value"])))
        return found

    async def value(self, name: str, **labels: str) -> float:
        """The sum over every series of `name` whose labels include `labels` (0 if none)."""
        return sum(
            v
            for n, have, v in await self.samples()
            if n == name and all(have.get(k) == want for k, want in labels.items())
        )

    async def wait_for(
        self, name: str, expected: float, timeout: float = 10, /, **labels: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while (got := await self.value(name, **labels)) != expected:
            assert time.monotonic() < deadline, f"{name}{labels} = {got}, expected {expected}"
            await asyncio.sleep(0.1)


@pytest.fixture(scope="module")
def scraper() -> Scraper:
    port = free_port()
    runtime = metrics_runtime(Settings(metrics_port=port))  # what `ticketclock worker` builds
    assert runtime is not None
    return Scraper(runtime, port)


def _env(scraper: Scraper) -> ActivityEnvironment:
    env = ActivityEnvironment()
    env.metric_meter = scraper.runtime.metric_meter
    return env


def _sla(policy: str) -> ResolvedSla:
    return quick_sla().model_copy(update={"policy_id": policy})


def _deadline(policy: str, purpose: str, outcome: str | None = None) -> DeadlineRequest:
    start = datetime(2026, 11, 16, 9, tzinfo=UTC)
    return DeadlineRequest(
        sla=_sla(policy),
        clock=Clock.first_response,
        severity="sev1",
        started_at=start,
        now=start + timedelta(seconds=42),
        purpose=purpose,
        outcome=outcome,
    )


def _note(policy: str, event: str) -> NotificationRequest:
    return NotificationRequest(
        workflow_id="ticket-M-1",
        ticket_key="M-1",
        policy=policy,
        tier="gold",
        severity="sev1",
        severity_label="Sev1",
        clock="first_response",
        cycle=1,
        event=event,
        due_at=None,
        due_local=None,
        idempotency_key=f"ticket-M-1:first_response:1:{event}",
        occurred_at=datetime.now(UTC),
    )


async def test_compute_deadline_counts_starts_and_outcomes(scraper: Scraper) -> None:
    policy = unique("p")
    env = _env(scraper)
    env.run(compute_deadline, _deadline(policy, "start"))
    env.run(compute_deadline, _deadline(policy, "recompute"))  # not a new cycle
    env.run(compute_deadline, _deadline(policy, "measure", "met"))
    env.run(compute_deadline, _deadline(policy, "measure", "breached"))
    env.run(compute_deadline, _deadline(policy, "measure", "breached"))
    env.run(compute_deadline, _deadline(policy, "measure", "stopped"))  # neither

    labels = {"policy": policy, "severity": "sev1", "clock": "first_response"}
    assert await scraper.value(metrics.STARTED, **labels) == 1
    assert await scraper.value(metrics.MET, **labels, outcome="met") == 1
    assert await scraper.value(metrics.BREACHED, **labels, outcome="breached") == 2
    # business seconds to first response: 42 s each (24x7 test calendar)
    hist = metrics.FIRST_RESPONSE
    assert await scraper.value(f"{hist}_count", **labels) == 3
    assert await scraper.value(f"{hist}_sum", **labels) == 3 * 42
    assert await scraper.value(f"{hist}_bucket", **labels, outcome="met", le="60") == 1
    # the worker's bucket overrides reach past the SDK's default 10000
    buckets = {
        have["le"]
        for n, have, _ in await scraper.samples()
        if n == f"{hist}_bucket" and have.get("policy") == policy
    }
    assert {"28800", "345600", "+Inf"} <= buckets


async def test_route_counts_warnings_and_reminders(scraper: Scraper) -> None:
    policy = unique("p")
    env = _env(scraper)
    notifier = Notifier(Settings())
    for event in ("warning", "warning", "reminder", "breach", "met"):
        assert await env.run(notifier.route, _note(policy, event)) == []
    assert await scraper.value(metrics.WARNED, policy=policy, event="warning") == 2
    assert await scraper.value(metrics.WARNED, policy=policy, event="reminder") == 1
    assert await scraper.value(metrics.WARNED, policy=policy) == 3


async def test_deliver_counts_each_attempt_by_outcome(scraper: Scraper) -> None:
    policy = unique("p")
    env = _env(scraper)
    async with WebhookReceiver() as hook:
        notifier = Notifier(Settings(webhook_url=hook.url, notify_timeout_s=5))
        try:
            hook.respond_with(200, 400, 503)
            request = DeliveryRequest(destination="webhook", notification=_note(policy, "breach"))
            assert (await env.run(notifier.deliver, request)).outcome == "delivered"
            for _ in range(2):
                with pytest.raises(ApplicationError):
                    await env.run(notifier.deliver, request)
            unknown = DeliveryRequest(destination="slack", notification=_note(policy, "breach"))
            with pytest.raises(ApplicationError):  # not configured here: not retried
                await env.run(notifier.deliver, unknown)
        finally:
            await notifier.aclose()
    name, labels = metrics.NOTIFICATIONS, {"policy": policy, "event": "breach"}
    assert await scraper.value(name, **labels, destination="webhook", outcome="delivered") == 1
    assert await scraper.value(name, **labels, destination="webhook", outcome="rejected") == 1
    assert await scraper.value(name, **labels, destination="webhook", outcome="failed") == 1
    assert await scraper.value(name, **labels, destination="slack", outcome="rejected") == 1


@pytest.fixture
async def metered_client(dev_env: WorkflowEnvironment, scraper: Scraper) -> AsyncIterator[Client]:
    """A client of the session's dev server on the metrics runtime, as `ticketclock worker` has."""
    target_host = dev_env.client.service_client.config.target_host
    yield await Client.connect(
        target_host,
        namespace=dev_env.client.namespace,
        data_converter=pydantic_data_converter,
        runtime=scraper.runtime,
    )


async def test_a_real_worker_exports_a_breached_ticket(
    metered_client: Client, scraper: Scraper
) -> None:
    policy = unique("p")
    sla = quick_sla(sev1={Clock.first_response: target(Clock.first_response, 1.0, warn=0.5)})
    sla = sla.model_copy(update={"policy_id": policy})
    key = unique("M")
    async with WebhookReceiver() as hook:
        settings = Settings(task_queue=unique("metrics"), webhook_url=hook.url)
        async with build_worker(metered_client, settings):
            handle = await metered_client.start_workflow(
                TicketWorkflow.run,
                TicketInput(key=key, sla=sla, opened_at=datetime.now(UTC)),
                id=ticket_workflow_id(key),
                task_queue=settings.task_queue,
            )
            try:
                labels = {"policy": policy, "clock": "first_response", "severity": "sev1"}
                await scraper.wait_for(metrics.BREACHED, 1, **labels)
                await scraper.wait_for(f"{metrics.FIRST_RESPONSE}_count", 1, **labels)
                await hook.wait_for(2)  # the warning and the breach, delivered
                await scraper.wait_for(metrics.NOTIFICATIONS, 2, policy=policy, outcome="delivered")
                view = await handle.query(TicketWorkflow.status)
                [cycle] = view.clocks
                assert cycle.status == CycleStatus.breached
            finally:
                await handle.terminate("test finished")
    assert await scraper.value(metrics.STARTED, **labels) == 1
    assert await scraper.value(metrics.WARNED, **labels, event="warning") == 1
    assert await scraper.value(metrics.MET, policy=policy) == 0
    # recorded from activities: the SDK labels say which one, on which queue
    [started] = [
        have
        for n, have, _ in await scraper.samples()
        if n == metrics.STARTED and have.get("policy") == policy
    ]
    assert started["activity_type"] == "compute_deadline"
    assert started["task_queue"] == settings.task_queue
