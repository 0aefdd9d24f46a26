"""The delivery rule every consumer follows: handle a message a bounded number of times, then
move it to the dead-letter topic with the error and its origin, and carry on. Nothing is dropped
silently, and one poison message never blocks a partition.

Broker-agnostic: the consumer passes what it read and a ``publish`` callable.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from contracts import topics
from contracts.envelope import Envelope, EnvelopeError
from contracts.events import DeadLettered, Event

from servicekit import metrics
from servicekit.publisher import Publish

log = logging.getLogger(__name__)

RecordDeadLetter = Callable[[DeadLettered], Awaitable[None]]
"""Stores a dead letter where the API lists it (the ``dead_letters`` collection)."""


@dataclass(frozen=True, slots=True)
class Consumed:
    """A record as a consumer read it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    headers: Mapping[str, str]
    value: bytes

    @classmethod
    def from_record(cls, record: KafkaRecord) -> Consumed:
        """From a Kafka client's record (aiokafka's ConsumerRecord, for one)."""
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            headers={name: value.decode(errors="replace") for name, value in record.headers},
            value=record.value,
        )


class KafkaRecord(Protocol):
    """What ``Consumed.from_record`` reads from a consumed record."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class Permanent(Exception):
    """An error that no retry can fix (bad input): dead-letter at once."""


async def handle_or_dead_letter(
    record: Consumed,
    handle: Callable[[Envelope[Event]], Awaitable[None]],
    *,
    consumer: str,
    publish: Publish,
    attempts: int = 3,
    backoff_seconds: float = 0.2,
    record_dead_letter: RecordDeadLetter | None = None,
) -> bool:
    """Parse and handle ``record``; after ``attempts`` failures (or at once for an invalid
    envelope or a Permanent error) publish a DeadLettered event, and store it with
    ``record_dead_letter`` when given. True when handled."""
    error: BaseException | None = None
    tried = 0
    try:
        envelope = Envelope.parse(record.headers, record.value)
    except EnvelopeError as exc:
        error, tried = exc, 1
    else:
        for tried in range(1, attempts + 1):
            try:
                await handle(envelope)
                return True
            except Permanent as exc:
                error = exc
                break
            except Exception as exc:
                error = exc
                log.warning("%s: attempt %d of %d failed: %r", consumer, tried, attempts, exc)
                if tried < attempts:
                    await asyncio.sleep(backoff_seconds * 2 ** (tried - 1))
    assert error is not None
    dead = dead_letter_for(record, error, consumer=consumer, attempts=tried)
    log.error("%s: dead-lettered %s@%d: %s", consumer, record.topic, record.offset, error)
    metrics.DEAD_LETTERS.labels(consumer).inc()
    await publish(dead.body(), topics.DEAD_LETTERS, record.key, dead.headers())
    if record_dead_letter is not None:
        try:
            await record_dead_letter(dead.data)
        except Exception:  # the topic has it; the collection is the convenient copy
            log.exception("%s: could not store dead letter %s", consumer, dead.data.dead_letter_id)
    return False


async def handle_batch_or_dead_letter(
    records: Sequence[Consumed],
    handle_batch: Callable[[list[Envelope[Event]]], Awaitable[None]],
    *,
    consumer: str,
    publish: Publish,
    attempts: int = 3,
    backoff_seconds: float = 0.2,
    record_dead_letter: RecordDeadLetter | None = None,
) -> None:
    """Handle a consumed batch at once (one round of writes and sends for all of it). Records
    whose envelope is invalid are dead-lettered first. When the batch fails, its records are
    handled one at a time, each as a batch of one under ``handle_or_dead_letter``, so a poison
    record is dead-lettered alone and the rest still goes through. ``handle_batch`` must be
    idempotent per record (a failed batch may have done part of its work)."""
    parsed: list[tuple[Consumed, Envelope[Event]]] = []
    for record in records:
        try:
            parsed.append((record, Envelope.parse(record.headers, record.value)))
        except EnvelopeError:
            await handle_or_dead_letter(
                record,
                handle_batch_of_one(handle_batch),
                consumer=consumer,
                publish=publish,
                record_dead_letter=record_dead_letter,
            )
    if len(parsed) > 1:
        try:
            await handle_batch([envelope for _, envelope in parsed])
            return
        except Exception as exc:
            log.warning(
                "%s: a batch of %d failed (%r): handling its records one at a time",
                consumer,
                len(parsed),
                exc,
            )
    for record, _ in parsed:
        await handle_or_dead_letter(
            record,
            handle_batch_of_one(handle_batch),
            consumer=consumer,
            publish=publish,
            attempts=attempts,
            backoff_seconds=backoff_seconds,
            record_dead_letter=record_dead_letter,
        )


def handle_batch_of_one(
    handle_batch: Callable[[list[Envelope[Event]]], Awaitable[None]],
) -> Callable[[Envelope[Event]], Awaitable[None]]:
    async def handle(envelope: Envelope[Event]) -> None:
        await handle_batch([envelope])

    return handle


def dead_letter_for(
    record: Consumed, error: BaseException, *, consumer: str, attempts: int
) -> Envelope[DeadLettered]:
    """The DeadLettered envelope for a record that could not be handled."""
    event = DeadLettered(
        dead_letter_id=str(uuid.uuid4()),
        consumer=consumer,
        original_topic=record.topic,
        original_partition=record.partition,
        original_offset=record.offset,
        original_key=record.key.decode(errors="replace") if record.key is not None else None,
        original_headers=dict(record.headers),
        original_value=record.value.decode(errors="replace"),
        error_type=type(error).__name__,
        error=str(error) or repr(error),
        attempts=attempts,
        failed_at=datetime.now(UTC),
    )
    tenant = record.headers.get("tenant_id") or "unknown"
    return Envelope.wrap(event, source=f"/connectflo/{consumer}", tenant_id=tenant)
