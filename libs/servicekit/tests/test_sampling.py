"""Exporting, every trace is sampled except one a client call would start on its own."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ParentBased
from opentelemetry.trace import SpanKind
from servicekit.telemetry import NoOrphanClientSpans


def test_a_client_call_outside_any_trace_starts_none() -> None:
    tracer = TracerProvider(sampler=ParentBased(root=NoOrphanClientSpans())).get_tracer("t")
    orphan = tracer.start_span("find", kind=SpanKind.CLIENT)
    assert not orphan.is_recording()
    with tracer.start_as_current_span("execution ExecutionRequested") as command:
        assert command.is_recording()
        inside = tracer.start_span("find", kind=SpanKind.CLIENT)
        assert inside.is_recording()
    server = tracer.start_span("POST /v1/events/{trigger_type}", kind=SpanKind.SERVER)
    assert server.is_recording()
