"""Tracing (OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set; traceparent in and out) and
the Prometheus metrics of timers."""

from __future__ import annotations

import os

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from prometheus_client import Counter, Gauge, Histogram

SERVICE_NAME = "scheduler"


def setup_tracing() -> None:
    """Install the tracer provider. With OTEL_EXPORTER_OTLP_ENDPOINT set, spans are recorded and
    exported; without it none is recorded (nobody would see it: a span costs the gateway a
    tenth of a request), yet every span still gets its ids, so the traceparent carries one
    trace id from service to service all the same."""
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    provider = TracerProvider(
        resource=Resource.create({"service.name": SERVICE_NAME}),
        # None: the SDK's default sampler (ParentBased(ALWAYS_ON), or OTEL_TRACES_SAMPLER)
        sampler=None if exporting else ALWAYS_OFF,
    )
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


tracer = trace.get_tracer(SERVICE_NAME)


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, for the envelope."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from(traceparent: str | None) -> Context | None:
    """The trace context an incoming traceparent continues, if any."""
    return propagate.extract({"traceparent": traceparent}) if traceparent else None


# Prometheus metrics (served on /metrics).
TIMERS_STORED = Counter("connectflo_scheduler_timers_stored_total", "Timers stored (first time).")
TIMERS_FIRED = Counter(
    "connectflo_scheduler_timers_fired_total", "Timers fired: EffectSettled published."
)
TIMERS_CANCELLED = Counter(
    "connectflo_scheduler_timer_cancels_total",
    "Timer cancels, by outcome: cancelled, tombstone (before its request), too_late, repeated.",
    ["outcome"],
)
TIMER_LATENESS = Histogram(
    "connectflo_scheduler_timer_lateness_seconds",
    "How long after its due time a timer fired (fired_at - fire_at).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
OWNED_PARTITIONS = Gauge(
    "connectflo_scheduler_owned_partitions",
    "Partitions of the timers topic this replica owns (fires the timers of).",
)
