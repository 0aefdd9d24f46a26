from datetime import UTC, datetime

import pytest
from contracts import Envelope, EnvelopeError
from contracts.events import EVENT_TYPES, NodesStepped, TriggerReceived
from pydantic import ValidationError


def trigger() -> TriggerReceived:
    return TriggerReceived(
        trigger_id="trg_1",
        tenant_id="ten_1",
        trigger_type="Incoming Message",
        conversation_id="conv-1",
        payload={"text": "hi"},
        received_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_binary_mode_headers_carry_the_cloudevents_attributes() -> None:
    envelope = Envelope.wrap(trigger(), source="/gw", tenant_id="ten_1", traceparent="00-a-b-01")
    headers = envelope.headers()
    assert headers["ce_type"] == "TriggerReceived"
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_source"] == "/gw"
    assert headers["tenant_id"] == "ten_1"
    assert headers["traceparent"] == "00-a-b-01"
    assert datetime.fromisoformat(headers["ce_time"]).tzinfo is not None


def test_round_trip_through_headers_and_body() -> None:
    envelope = Envelope.wrap(trigger(), source="/gw", tenant_id="ten_1")
    raw_headers = [(k, v.encode()) for k, v in envelope.headers().items()]
    parsed = Envelope.parse(raw_headers, envelope.body())
    assert parsed.data == envelope.data
    assert parsed.id == envelope.id
    assert parsed.traceparent is None


def test_the_w3c_trace_context_travels_whole() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    envelope = Envelope.wrap(
        trigger(), source="/gw", tenant_id="ten_1", traceparent=traceparent, tracestate="v=1"
    )
    assert envelope.headers()["tracestate"] == "v=1"
    parsed = Envelope.parse(envelope.headers(), envelope.body())
    assert (parsed.traceparent, parsed.tracestate) == (traceparent, "v=1")
    alone = Envelope.wrap(trigger(), source="/gw", tenant_id="ten_1", tracestate="v=1")
    assert "tracestate" not in alone.headers()  # no tracestate without its traceparent


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "tenant_id", "ce_time"])
def test_a_missing_header_is_named(missing: str) -> None:
    envelope = Envelope.wrap(trigger(), source="/gw", tenant_id="ten_1")
    headers = {k: v for k, v in envelope.headers().items() if k != missing}
    with pytest.raises(EnvelopeError, match=missing):
        Envelope.parse(headers, envelope.body())


def test_unknown_type_and_bad_body_are_named() -> None:
    envelope = Envelope.wrap(trigger(), source="/gw", tenant_id="ten_1")
    with pytest.raises(EnvelopeError, match="Nope"):
        Envelope.parse({**envelope.headers(), "ce_type": "Nope"}, envelope.body())
    with pytest.raises(EnvelopeError, match="trigger_id"):
        Envelope.parse(envelope.headers(), b'{"tenant_id": "x"}')


def test_events_are_frozen_and_strict() -> None:
    event = trigger()
    with pytest.raises(ValidationError):
        event.tenant_id = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="surprise"):
        TriggerReceived.model_validate({**event.model_dump(), "surprise": 1})


def test_type_names_are_explicit_and_unique() -> None:
    assert EVENT_TYPES["NodesStepped"] is NodesStepped
    assert all(name == model.event_type for name, model in EVENT_TYPES.items())
    assert all("." not in name for name in EVENT_TYPES)
