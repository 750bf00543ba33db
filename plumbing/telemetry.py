"""Traces: one trace from an HTTP request, through the workflow Update it runs, to the activities
that Update schedules (routing and delivering a notification).

- `TracingInterceptor` (temporalio.contrib.opentelemetry) on the API's client and on the worker.
  The stock interceptor files an Update's workflow spans under the span that *started* the
  workflow (the ticket's creation, maybe days ago) and only links the caller; ours parents them
  on the caller, so "why was this webhook sent" is answered by the request that caused it.
- FastAPI instrumentation on the API: a server span per request, continuing a W3C `traceparent`.
- Export is configured by the standard OTEL_* variables only: OTLP over HTTP when
  OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, nothing otherwise;
  OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off. OTEL_SERVICE_NAME,
  OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER and OTEL_BSP_* are read
  by the OpenTelemetry SDK itself.

Without a configured provider every span is OpenTelemetry's no-op, so the wiring costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import opentelemetry.context
import opentelemetry.trace
import temporalio.worker
from opentelemetry.trace import Span
from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.contrib.opentelemetry._context import attached_context

from plumbing.redact import redact_query

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)

API_SERVICE = "ticketclock-api"
WORKER_SERVICE = "ticketclock-worker"
# Probes are polled every few seconds by orchestrators: tracing them is noise.
UNTRACED_URLS = "healthz,readyz"

_configured = False
_configure_lock = threading.Lock()


def _otlp_endpoint(env: Mapping[str, str]) -> str | None:
    return env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")


def tracing_wanted(env: Mapping[str, str] | None = None) -> bool:
    """Whether the OTEL_* variables ask for traces to be exported (OTLP needs an endpoint)."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")}
    return "otlp" in exporters and bool(_otlp_endpoint(env))


def configure_tracing(service_name: str, env: Mapping[str, str] | None = None) -> bool:
    """Install the global tracer provider exporting OTLP/HTTP, if the OTEL_* variables ask for it.

    Once per process (OpenTelemetry allows one global provider); later calls return what the first
    one did. `service_name` is the default `service.name`; OTEL_SERVICE_NAME and
    OTEL_RESOURCE_ATTRIBUTES win over it.
    """
    global _configured
    env = os.environ if env is None else env
    with _configure_lock:
        if _configured:
            return True
        if not tracing_wanted(env):
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get(
            "OTEL_RESOURCE_ATTRIBUTES", ""
        )
        resource = Resource.create({} if named else {SERVICE_NAME: service_name})
        provider = TracerProvider(resource=resource)
        # The exporter reads its endpoint, headers, timeout and compression from OTEL_*.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        opentelemetry.trace.set_tracer_provider(provider)
        _configured = True
        log.info("exporting traces over OTLP/HTTP to %s", _otlp_endpoint(env))
        return True


# -- Temporal ------------------------------------------------------------------------------------
class _UpdateParentedWorkflowInterceptor(TracingWorkflowInboundInterceptor):
    """Validates and handles an Update under the caller's span (from the Update's headers).

    Everything the handler starts (notification tasks, new clock cycles) inherits that context,
    so the activities it schedules land in the caller's trace. Without a caller span (an Update
    from an untraced client) the stock behaviour applies.
    """

    def _caller_context(self, headers: Mapping[str, Any]) -> opentelemetry.context.Context | None:
        payload = headers.get(self.header_key)
        if not payload:
            return None
        carrier = self.payload_converter.from_payloads([payload])[0]
        if not carrier:
            return None
        context = self.text_map_propagator.extract(carrier)
        if opentelemetry.trace.get_current_span(context) is opentelemetry.trace.INVALID_SPAN:
            return None
        # The workflow-side helpers find this interceptor on the context.
        return self._set_on_context(context)

    def handle_update_validator(self, input: temporalio.worker.HandleUpdateInput) -> None:
        context = self._caller_context(input.headers)
        if context is None:
            super().handle_update_validator(input)
            return
        with attached_context(context):
            self._completed_span(
                f"ValidateUpdate:{input.update}", kind=opentelemetry.trace.SpanKind.SERVER
            )
            self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: temporalio.worker.HandleUpdateInput) -> Any:
        context = self._caller_context(input.headers)
        if context is None:
            return await super().handle_update_handler(input)
        # The SDK's own helper: an evicted workflow's handler may be finalised in another
        # contextvars.Context, where a plain detach would log an error.
        with attached_context(context):
            self._completed_span(
                f"HandleUpdate:{input.update}", kind=opentelemetry.trace.SpanKind.SERVER
            )
            return await self.next.handle_update_handler(input)


class TicketTracingInterceptor(TracingInterceptor):
    """`TracingInterceptor` whose workflow side parents Updates on their caller (see above)."""

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the span extern function
        return _UpdateParentedWorkflowInterceptor


def _has_tracing(interceptors: Sequence[Any]) -> bool:
    return any(isinstance(i, TracingInterceptor) for i in interceptors)


def with_tracing(interceptors: Sequence[ClientInterceptor]) -> list[ClientInterceptor]:
    """Client interceptors plus tracing (unless one is there): what `connect` passes, so the API's
    client and the worker's (a worker inherits its client's interceptors) both trace."""
    if _has_tracing(interceptors):
        return list(interceptors)
    return [*interceptors, TicketTracingInterceptor()]


def worker_interceptors(client: Client) -> list[temporalio.worker.Interceptor]:
    """Interceptors for a `Worker` on `client`: tracing, unless the client already brings it
    (a worker inherits its client's interceptors, and two would double every span)."""
    if _has_tracing(client.config()["interceptors"]):
        return []
    return [TicketTracingInterceptor()]


# -- HTTP ----------------------------------------------------------------------------------------
def instrument_api(app: FastAPI) -> None:
    """A server span per request (continuing an incoming `traceparent`), exported as configured.

    OTEL_PYTHON_FASTAPI_EXCLUDED_URLS replaces the default exclusion of the probes.
    """
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    configure_tracing(API_SERVICE)
    excluded = None if os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") else UNTRACED_URLS
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls=excluded, server_request_hook=redact_span_url
    )


# Span attributes that carry the request's query string, in the old and new HTTP conventions.
URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")


def redact_span_url(span: Span, scope: dict[str, Any]) -> None:
    """The server span records the URL as sent: a refused `?access_token=...` included. The
    instrumentation redacts only a few cloud signatures, so credentials are redacted here, by the
    same rule as the access log."""
    if not span.is_recording() or not scope.get("query_string"):
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str):
            # `url.query` has no leading "?": give the rule one to anchor on, then drop it.
            redacted = redact_query("?" + value)[1:] if name == "url.query" else redact_query(value)
            if redacted != value:
                span.set_attribute(name, redacted)
