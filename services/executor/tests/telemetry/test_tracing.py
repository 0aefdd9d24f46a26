"""Without an OTLP endpoint no span is recorded, yet the trace id still travels."""

from executor import telemetry


def test_without_an_endpoint_spans_are_not_recorded_but_carry_one_trace_id(monkeypatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    telemetry.setup_tracing()
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with telemetry.tracer.start_as_current_span(
        "command", context=telemetry.context_from(incoming)
    ) as span:
        assert not span.is_recording()
        outgoing = telemetry.current_traceparent()
    assert outgoing is not None
    assert outgoing.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"
