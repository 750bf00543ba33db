"""Traces link up: one HTTP request -> the workflow Update it runs -> the notification activities
that Update schedules, all in the caller's trace. Real HTTP (uvicorn), the real dev server, the
real worker; spans collected in memory."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from harness.receivers import WebhookReceiver
from plumbing import telemetry
from plumbing.settings import ApiToken, Settings
from plumbing.temporal_client import connect
from tests.support import unique
from tests.support.api import Served
from ticketclock.worker import build_worker

TOKEN = "otel-all-scopes-token-0123456789"
SCOPES = frozenset({"tickets:create", "tickets:act", "tickets:read"})


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    """An in-memory exporter on the global tracer provider (installed once per process)."""
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        current.add_span_processor(processor)
    else:
        provider = TracerProvider()
        provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
    yield exporter
    exporter.shutdown()  # later tests' spans are dropped, not kept in memory


@pytest.fixture
async def served(
    dev_env: WorkflowEnvironment,
) -> AsyncIterator[tuple[httpx.AsyncClient, WebhookReceiver, Client]]:
    """The API and the worker as production builds them: `create_app` connecting through
    `plumbing.temporal_client.connect`, and `build_worker` on the session's untraced client
    (so the worker must add tracing itself)."""
    async with WebhookReceiver() as hook:
        client = dev_env.client
        settings = Settings(
            temporal_address=client.service_client.config.target_host,
            temporal_namespace=client.namespace,
            task_queue=unique("otel"),
            webhook_url=hook.url,
            api_tokens=(ApiToken("otel", TOKEN, SCOPES),),
        )
        app = create_app(settings)
        async with (
            build_worker(client, settings),
            Served(app) as api,
            httpx.AsyncClient(
                base_url=api.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            ) as http,
        ):
            yield http, hook, client


async def _wait_for_span(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    deadline = time.monotonic() + 10
    while True:
        found = [s for s in exporter.get_finished_spans() if s.name == name]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"no span {name!r}: {_names(exporter)}"
        await asyncio.sleep(0.05)


def _names(exporter: InMemorySpanExporter) -> list[str]:
    return [s.name for s in exporter.get_finished_spans()]


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_one_trace_from_http_request_through_update_to_activity(
    spans: InMemorySpanExporter,
    served: tuple[httpx.AsyncClient, WebhookReceiver, Client],
) -> None:
    http, hook, client = served
    assert telemetry.worker_interceptors(client), "the session client itself is untraced"
    key = unique("OTEL")
    ticket = {
        "key": key,
        "policy": "confluence-health-check",
        "tier": "standard",
        "severity": "sev3",
        "subject": "traced",
    }
    assert (await http.post("/v1/tickets", json=ticket)).status_code == 201
    await asyncio.sleep(0.2)  # let the creation's own spans finish before looking
    spans.clear()
    hook.clear()

    # The caller's W3C context is continued: every span below must carry its trace id.
    trace_id = secrets.randbits(128) | 1
    caller_span = secrets.randbits(64) | 1
    traceparent = f"00-{trace_id:032x}-{caller_span:016x}-01"
    ack = await http.post(
        f"/v1/tickets/{key}/acknowledge",
        json={"actor": "agent:jane", "message": "On it"},
        headers={"traceparent": traceparent},
    )
    assert ack.status_code == 200, ack.text

    # Acknowledging meets first_response, which notifies: routed, then delivered to the webhook.
    [request] = await hook.wait_for(1)
    assert request.json()["event"] == "met"
    deliver = await _wait_for_span(spans, "RunActivity:deliver_notification")
    route = await _wait_for_span(spans, "RunActivity:route_notification")
    finished = {s.name: s for s in spans.get_finished_spans()}

    server = [
        s
        for s in finished.values()
        if s.kind == trace.SpanKind.SERVER and s.name.startswith("POST /v1/tickets/")
    ]
    assert len(server) == 1, _names(spans)
    http_span = server[0]
    assert http_span.context.trace_id == trace_id
    assert _parent(http_span) == caller_span

    start_update = finished["StartWorkflowUpdate:acknowledge"]
    handle_update = finished["HandleUpdate:acknowledge"]
    validate_update = finished["ValidateUpdate:acknowledge"]
    start_deliver = finished["StartActivity:deliver_notification"]
    start_route = finished["StartActivity:route_notification"]
    chain = [
        http_span,
        start_update,
        validate_update,
        handle_update,
        start_route,
        route,
        start_deliver,
        deliver,
    ]
    assert {s.context.trace_id for s in chain} == {trace_id}, [
        (s.name, f"{s.context.trace_id:032x}") for s in chain
    ]

    # ... and they nest: HTTP request -> update call -> workflow side -> activities.
    assert _parent(start_update) in {s.context.span_id for s in server} | {
        s.context.span_id for s in finished.values() if _parent(s) == http_span.context.span_id
    }
    assert _parent(handle_update) == start_update.context.span_id
    assert _parent(validate_update) == start_update.context.span_id
    assert _parent(start_route) == start_update.context.span_id
    assert _parent(route) == start_route.context.span_id
    assert _parent(deliver) == start_deliver.context.span_id
    assert deliver.attributes is not None
    assert deliver.attributes["temporalActivityID"]


async def test_a_token_in_the_query_string_never_reaches_a_span(
    spans: InMemorySpanExporter,
    served: tuple[httpx.AsyncClient, WebhookReceiver, Client],
) -> None:
    # The API refuses a token in the URL, but the server span records the URL as sent: the
    # instrumentation itself redacts only a few cloud signatures (not access_token).
    http, _, _ = served
    secret = "leaked-" + secrets.token_hex(8)
    spans.clear()
    answer = await http.get(f"/v1/tickets?limit=5&access_token={secret}&api_key={secret}")
    assert answer.status_code < 500
    server = await _wait_for_span(spans, "GET /v1/tickets")
    assert server.attributes is not None
    recorded = {k: v for k, v in server.attributes.items() if isinstance(v, str)}
    urls = {k: v for k, v in recorded.items() if k in telemetry.URL_ATTRIBUTES}
    assert urls, f"the span records no URL attribute: {sorted(recorded)}"
    assert any("limit=5" in v for v in urls.values()), urls
    assert not any(secret in v for v in recorded.values()), recorded


def test_export_only_when_otel_variables_ask() -> None:
    assert not telemetry.tracing_wanted({})
    assert telemetry.tracing_wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert telemetry.tracing_wanted(
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    )
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert not telemetry.tracing_wanted({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not telemetry.tracing_wanted({**endpoint, "OTEL_TRACES_EXPORTER": "none"})
    assert not telemetry.configure_tracing("ticketclock-test", {})


async def test_tracing_is_added_once(dev_env: WorkflowEnvironment) -> None:
    settings = Settings(
        temporal_address=dev_env.client.service_client.config.target_host,
        temporal_namespace=dev_env.client.namespace,
    )
    traced = await connect(settings)
    [interceptor] = traced.config()["interceptors"]
    assert isinstance(interceptor, telemetry.TicketTracingInterceptor)
    assert telemetry.with_tracing([interceptor]) == [interceptor]
    # a worker on a traced client inherits its interceptor; on an untraced one it gets its own
    assert telemetry.worker_interceptors(traced) == []
    assert len(telemetry.worker_interceptors(dev_env.client)) == 1
