from datetime import UTC, datetime

from contracts import Envelope, topics
from contracts.events import DeadLettered, TriggerReceived
from servicekit.delivery import (
    Consumed,
    Permanent,
    handle_batch_or_dead_letter,
    handle_or_dead_letter,
)


def record(value: bytes | None = None, headers: dict[str, str] | None = None) -> Consumed:
    event = TriggerReceived(
        trigger_id="t", tenant_id="ten", trigger_type="New Order", received_at=datetime.now(UTC)
    )
    envelope = Envelope.wrap(event, source="/test", tenant_id="ten")
    return Consumed(
        topic=topics.TRIGGERS,
        partition=2,
        offset=41,
        key=b"conv",
        headers=envelope.headers() if headers is None else headers,
        value=envelope.body() if value is None else value,
    )


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, str, bytes | None, dict[str, str]]] = []

    async def __call__(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        self.sent.append((value, topic, key, headers))

    def dead(self) -> DeadLettered:
        ((value, topic, _key, headers),) = self.sent
        assert topic == topics.DEAD_LETTERS
        parsed = Envelope.parse(headers, value).data
        assert isinstance(parsed, DeadLettered)
        return parsed


async def test_handled_message_publishes_nothing() -> None:
    sink, seen = Sink(), []

    async def handle(envelope: Envelope) -> None:  # type: ignore[type-arg]
        seen.append(envelope.data)

    assert await handle_or_dead_letter(record(), handle, consumer="c", publish=sink)
    assert len(seen) == 1 and sink.sent == []


async def test_transient_failure_is_retried_then_handled() -> None:
    sink, calls = Sink(), []

    async def handle(envelope: Envelope) -> None:  # type: ignore[type-arg]
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("mongo blinked")

    ok = await handle_or_dead_letter(
        record(), handle, consumer="c", publish=sink, attempts=3, backoff_seconds=0
    )
    assert ok and len(calls) == 3 and sink.sent == []


async def test_persistent_failure_goes_to_dead_letters_with_origin_and_error() -> None:
    sink = Sink()

    async def handle(envelope: Envelope) -> None:  # type: ignore[type-arg]
        raise RuntimeError("boom")

    ok = await handle_or_dead_letter(
        record(), handle, consumer="executor", publish=sink, attempts=2, backoff_seconds=0
    )
    dead = sink.dead()
    assert not ok
    assert (dead.original_topic, dead.original_partition, dead.original_offset) == (
        topics.TRIGGERS,
        2,
        41,
    )
    assert dead.error == "boom" and dead.error_type == "RuntimeError" and dead.attempts == 2
    assert dead.consumer == "executor" and dead.original_key == "conv"


async def test_poison_message_is_dead_lettered_at_once() -> None:
    sink, calls = Sink(), []

    async def handle(envelope: Envelope) -> None:  # type: ignore[type-arg]
        calls.append(1)

    await handle_or_dead_letter(
        record(value=b"\xff not json"), handle, consumer="c", publish=sink, attempts=5
    )
    dead = sink.dead()
    assert calls == [] and dead.attempts == 1 and dead.error_type == "EnvelopeError"
    assert "not json" in dead.original_value


async def test_permanent_error_is_not_retried() -> None:
    sink, calls = Sink(), []

    async def handle(envelope: Envelope) -> None:  # type: ignore[type-arg]
        calls.append(1)
        raise Permanent("tenant unknown")

    await handle_or_dead_letter(record(), handle, consumer="c", publish=sink, attempts=5)
    assert calls == [1] and sink.dead().error == "tenant unknown"


async def test_batch_is_handled_in_one_call() -> None:
    sink, calls = Sink(), []

    async def handle_batch(envelopes: list[Envelope]) -> None:  # type: ignore[type-arg]
        calls.append(len(envelopes))

    await handle_batch_or_dead_letter(
        [record(), record(), record()], handle_batch, consumer="c", publish=sink
    )
    assert calls == [3] and sink.sent == []


async def test_invalid_envelope_in_a_batch_is_dead_lettered_and_the_rest_handled() -> None:
    sink, calls = Sink(), []

    async def handle_batch(envelopes: list[Envelope]) -> None:  # type: ignore[type-arg]
        calls.append(len(envelopes))

    await handle_batch_or_dead_letter(
        [record(), record(value=b"not json"), record()], handle_batch, consumer="c", publish=sink
    )
    assert calls == [2]
    assert sink.dead().error_type == "EnvelopeError"


async def test_poison_record_fails_its_batch_then_alone_goes_to_dead_letters() -> None:
    sink, handled = Sink(), []
    poison = TriggerReceived(
        trigger_id="poison",
        tenant_id="ten",
        trigger_type="New Order",
        received_at=datetime.now(UTC),
    )
    bad = Envelope.wrap(poison, source="/test", tenant_id="ten")
    bad_record = Consumed(topics.TRIGGERS, 0, 7, b"k", bad.headers(), bad.body())

    async def handle_batch(envelopes: list[Envelope]) -> None:  # type: ignore[type-arg]
        if any(e.data.trigger_id == "poison" for e in envelopes):
            raise Permanent("cannot handle poison")
        handled.extend(e.data.trigger_id for e in envelopes)

    await handle_batch_or_dead_letter(
        [record(), bad_record, record()], handle_batch, consumer="c", publish=sink
    )
    assert handled == ["t", "t"]  # one at a time after the batch failed
    dead = sink.dead()
    assert dead.original_offset == 7 and dead.error == "cannot handle poison"


async def test_the_stored_dead_letter_holds_no_nul_and_the_event_keeps_the_bytes() -> None:
    sink = Sink()
    garbage = record(value=b"\x00\x01garbage\x00", headers={"x": "a\x00b"})

    async def never(envelope: Envelope) -> None:  # type: ignore[type-arg]
        raise AssertionError("not reached: the envelope is invalid")

    await handle_or_dead_letter(garbage, never, consumer="c", publish=sink)
    dead = sink.dead()
    assert dead.original_value == "\x00\x01garbage\x00"
    stored = dead.document()
    assert stored["_id"] == dead.dead_letter_id
    assert stored["original_value"] == "\ufffd\x01garbage\ufffd"
    assert stored["original_headers"] == {"x": "a\ufffdb"}


def test_a_record_header_that_is_not_utf8_is_replaced_not_fatal() -> None:
    class Record:
        topic, partition, offset, key, value = topics.TRIGGERS, 1, 9, b"k", b"{}"
        headers = [("ce_type", b"TriggerReceived"), ("x", b"\xff\xfe")]

    consumed = Consumed.from_record(Record())
    assert consumed.headers == {"ce_type": "TriggerReceived", "x": "\ufffd\ufffd"}
    assert (consumed.topic, consumed.partition, consumed.offset) == (topics.TRIGGERS, 1, 9)
