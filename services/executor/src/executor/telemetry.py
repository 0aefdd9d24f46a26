"""Tracing: OTLP export when OTEL_EXPORTER_OTLP_ENDPOINT is set; traceparent in and out."""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import Status, StatusCode

SERVICE_NAME = "executor"


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


def record_node_spans(node_runs: list[dict[str, Any]]) -> None:
    """One span per node run, child of the current (command) span, with the run's own times;
    none when the command span is not recorded (the children would not be either)."""
    if not trace.get_current_span().is_recording():
        return
    for run in node_runs:
        span = tracer.start_span(
            f"node {run['label']}",
            start_time=int(run["started_at"].timestamp() * 1e9),
            attributes={
                "node.id": run["node_id"],
                "node.kind": run["kind"],
                "node.status": run["status"],
            },
        )
        if run["status"] == "failed":
            span.set_status(Status(StatusCode.ERROR, run.get("error") or "failed"))
        span.end(end_time=int(run["finished_at"].timestamp() * 1e9))
