from datetime import UTC, datetime

from contracts import Envelope, topics
from contracts.delivery import Consumed, Permanent, handle_or_dead_letter
from contracts.events import DeadLettered, TriggerReceived


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
