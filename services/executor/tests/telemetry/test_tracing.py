"""Without an OTLP endpoint no span is recorded, yet the trace id still travels."""

from datetime import UTC, datetime

from executor import telemetry
from servicekit import telemetry as servicekit_telemetry


def test_without_an_endpoint_spans_are_not_recorded_but_carry_one_trace_id(monkeypatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    servicekit_telemetry.setup_tracing("executor")
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with telemetry.tracer.start_as_current_span(
        "command", context=telemetry.context_from(incoming)
    ) as span:
        assert not span.is_recording()
        outgoing = telemetry.current_trace()["traceparent"]
    assert outgoing is not None
    assert outgoing.split("-")[1] == "0af7651916cd43dd8448eb211c80319c"


class _Span:
    def __init__(self, recording: bool) -> None:
        self.recording = recording
        self.ended = 0

    def is_recording(self) -> bool:
        return self.recording

    def set_status(self, status: object) -> None:
        pass

    def end(self, end_time: int | None = None) -> None:
        self.ended += 1


class _Tracer:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start_span(self, name: str, **_: object) -> _Span:
        self.started.append(name)
        return _Span(True)


def _runs() -> list[dict[str, object]]:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    return [
        {
            "label": label,
            "node_id": label,
            "kind": "action",
            "status": "completed",
            "started_at": at,
            "finished_at": at,
        }
        for label in ("Set Variable", "Send Reply")
    ]


def test_node_spans_only_under_a_recorded_command_span(monkeypatch) -> None:
    tracer = _Tracer()
    monkeypatch.setattr(telemetry, "tracer", tracer)
    for recording, expected in ((False, []), (True, ["node action", "node action"])):
        tracer.started.clear()
        monkeypatch.setattr(telemetry.trace, "get_current_span", lambda r=recording: _Span(r))
        telemetry.record_node_runs(_runs())
        assert tracer.started == expected
