"""Tracing: one tracer provider per process, OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set,
W3C trace context in and out of Kafka headers, and the span shapes of OpenTelemetry's
messaging semantic conventions.

Without an endpoint no span is recorded (sampler ALWAYS_OFF: recording cost the gateway about
a tenth of its CPU per request), yet every span still gets its ids, so the ``traceparent`` in
each envelope still carries one trace id from service to service."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from contracts.envelope import Envelope, TraceContext
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, Span, SpanKind, Tracer, TraceState
from opentelemetry.util.types import Attributes

ATTRIBUTE_PREFIX = "connectflo."
_provider: TracerProvider | None = None
_recording = False  # spans are recorded (an exporter is set): else consuming() makes none


def exporting_spans() -> bool:
    """Spans go somewhere (OTEL_EXPORTER_OTLP_ENDPOINT is set): only then are they recorded
    and the instrumentations installed."""
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def setup_tracing(service_name: str, *, processor: SpanProcessor | None = None) -> None:
    """Install the process's tracer provider (once; later calls change nothing).
    ``processor``: where spans go instead of OTLP (tests: an in-memory exporter)."""
    global _provider, _recording
    if _provider is not None:
        return
    exporting = processor is not None or exporting_spans()
    _recording = exporting
    if not exporting:
        sampler: Sampler | None = ALWAYS_OFF
    elif os.environ.get("OTEL_TRACES_SAMPLER"):
        sampler = None  # the SDK reads the operator's choice
    else:
        sampler = ParentBased(root=NoOrphanClientSpans())
    _provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}), sampler=sampler
    )
    if processor is None and exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter())
    if processor is not None:
        _provider.add_span_processor(processor)
    trace.set_tracer_provider(_provider)
    if not exporting:
        # an instrumentation costs CPU even when nothing is recorded (docs/architecture.md,
        # Tracing): none is installed when no span is exported
        return
    # OpenTelemetry's own instrumentations where they fit: a CLIENT span per MongoDB command
    # and per outgoing HTTP request, children of whatever span is current
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor

    PymongoInstrumentor().instrument(tracer_provider=_provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=_provider)


class NoOrphanClientSpans(Sampler):
    """Every trace, except one that a MongoDB or HTTP client call would start on its own (a
    batch's flush, the scheduler's polling): those calls are seen in the traces they serve."""

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "NoOrphanClientSpans"


def shutdown_tracing() -> None:
    """Export what is buffered (at shutdown)."""
    if _provider is not None:
        _provider.shutdown()


def tracer(name: str) -> Tracer:
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, for the envelope."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def current_trace() -> TraceContext:
    """The current span's W3C trace context (the caller's tracestate kept), for an envelope:
    ``Envelope.wrap(event, ..., **current_trace())``."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return TraceContext(
        traceparent=carrier.get("traceparent"), tracestate=carrier.get("tracestate")
    )


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The trace context an incoming traceparent (and tracestate) continues, if any."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return propagate.extract(carrier)


def link_to(traceparent: str | None) -> list[Link]:
    """A link to the span an incoming traceparent names (a batch's span links each record's)."""
    context = context_from(traceparent)
    if context is None:
        return []
    span_context = trace.get_current_span(context).get_span_context()
    return [Link(span_context)] if span_context.is_valid else []


def attributes(**values: Any) -> dict[str, Any]:
    """Our own span attributes, under the ``connectflo.`` namespace, an underscore a dot
    (``execution_id`` is ``connectflo.execution.id``); None values left out."""
    return {ATTRIBUTE_PREFIX + k.replace("_", "."): v for k, v in values.items() if v is not None}


@contextmanager
def consuming(
    tracer_: Tracer, topic: str, envelope: Envelope[Any], *, group: str, **ours: Any
) -> Iterator[Span]:
    """A CONSUMER span for one message (messaging semantic conventions: ``process <topic>``),
    the child of its producer's span, with the execution, node and node kind of a request
    and ``ours`` as our own attributes (``attributes``). When no span is recorded (no
    exporter) none is made: the message's context is made current, so what is published
    continues its trace all the same, at half the cost."""
    if not _recording:
        token = otel_context.attach(context_from(**envelope.trace) or Context())
        try:
            yield trace.get_current_span()
        finally:
            otel_context.detach(token)
        return
    data = envelope.data
    attrs: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        **attributes(
            execution_id=getattr(data, "execution_id", None),
            node_id=getattr(data, "node_id", None),
            node_kind=getattr(data, "kind", None),
            **ours,
        ),
    }
    with tracer_.start_as_current_span(
        f"process {topic}",
        context=context_from(**envelope.trace),
        kind=SpanKind.CONSUMER,
        attributes=attrs,
    ) as span:
        yield span


def producing_attributes(topic: str, key: bytes | None) -> dict[str, Any]:
    """The attributes of a PRODUCER span (``send <topic>``)."""
    attrs: dict[str, Any] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": topic,
    }
    if key is not None:
        attrs["messaging.kafka.message.key"] = key.decode(errors="replace")
    return attrs
