"""How a service consumes a topic: one TopicConsumer, its records handled by a Pipeline, the
delivery rule around the handler. Three shapes of handler:

- ``on_batch(envelopes)``: the batch in one go (one round of writes and sends); when it
  fails, record by record, a poison record dead-lettered alone;
- ``on_record(envelope, record)``: one record after the other (the record gives partition
  and offset);
- ``plan(envelopes) -> flush`` with ``on_batch`` for the plain way: the batch is computed
  while the one before it is written and sent (the executor: servicekit.pipeline);
- ``concurrent(envelope, record, begun)``: every record in a task of its own, up to
  ``limit`` in flight, offsets committed up to the oldest unfinished one (records that wait
  on something slow and unequal, a provider's rate limit: servicekit.concurrent).

Offsets are committed by the pipeline, in order, only after their batch is handled, in the
background (servicekit.pipeline)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from contracts import Envelope
from contracts.events import Event

from servicekit.concurrent import Concurrent
from servicekit.consumer import Partitions, TopicConsumer
from servicekit.delivery import (
    Consumed,
    RecordDeadLetter,
    handle_batch_or_dead_letter,
    handle_or_dead_letter,
)
from servicekit.pipeline import Flush, Pipeline
from servicekit.publisher import Publish

OnBatch = Callable[[list[Envelope[Event]]], Awaitable[None]]
OnRecord = Callable[[Envelope[Event], Consumed], Awaitable[None]]
OnConcurrent = Callable[[Envelope[Event], Consumed, Callable[[], None]], Awaitable[None]]
Plan = Callable[[list[Envelope[Event]]], Awaitable[Flush]]
Select = Callable[[list[Consumed]], Awaitable[list[Consumed]]]
KafkaConsumerFactory = Callable[[str], Any]
"""group id -> an aiokafka consumer (not started): what TopicConsumer reads with instead of
its own (tests: servicekit.testing.MemoryBroker.consumer)."""


@dataclass(frozen=True)
class Consuming:
    """What every consumer of one service shares."""

    name: str  # the consumer in dead letters and metrics: the service's name
    group_id: str
    bootstrap_servers: str
    publish: Publish
    record_dead_letter: RecordDeadLetter | None
    attempts: int
    max_records: int
    kafka_consumer: KafkaConsumerFactory | None = None  # None: aiokafka's, to the brokers

    def consumer(
        self,
        topic: str,
        *,
        on_batch: OnBatch | None = None,
        on_record: OnRecord | None = None,
        plan: Plan | None = None,
        forget: Callable[[], None] | None = None,
        on_assigned: Callable[[set[TopicPartition]], Awaitable[None]] | None = None,
        on_revoked: Partitions | None = None,
        max_records: int | None = None,
        group_suffix: str = "",
        new_group_from: str = "earliest",
        select: Select | None = None,
        fetch_min_bytes: int = 1,
        concurrent: OnConcurrent | None = None,
        limit: int = 10_000,
    ) -> TopicConsumer:
        """A consumer of ``topic`` (not started). Exactly one of ``on_batch`` and ``on_record``;
        ``plan`` (with ``forget``: drop every plan's state) pipelines ``on_batch``;
        ``group_suffix``: in a group of its own (the service's group id + the suffix);
        ``new_group_from``: where the group starts when it has no committed offsets
        (``earliest`` or ``latest``, servicekit.consumer.TopicConsumer); ``select``: the
        records of a batch worth handling, by what they are before they are decoded (their
        headers: event type, tenant); the others are passed over (and committed);
        ``fetch_min_bytes``: see servicekit.consumer.TopicConsumer; ``concurrent`` (instead of
        the others): each record in a task of its own, at most ``limit`` in flight."""
        group_id = self.group_id + group_suffix
        if concurrent is not None:
            return self._concurrent_consumer(topic, concurrent, group_id, limit, on_assigned)
        if (on_batch is None) == (on_record is None):
            raise ValueError("give exactly one of on_batch and on_record")
        if select is not None and plan is not None:
            raise ValueError("select passes records over before on_batch, not before a plan")
        plainly = self._plainly(on_batch, on_record)
        if select is not None:
            plainly = _selecting(select, plainly)
        pipeline = Pipeline(
            self._planned(plan) if plan is not None else _as_flush(plainly),
            plainly,
            forget or _nothing,
            name=f"{self.name} {topic}",
        )
        return TopicConsumer(
            topic,
            pipeline.handle,
            group_id=group_id,
            bootstrap_servers=self.bootstrap_servers,
            max_records=max_records or self.max_records,
            name=self.name,
            drain=pipeline.drain,  # commit what was handled before partitions go, and at stop
            on_assigned=on_assigned,
            on_revoked=on_revoked,
            consumer=self.kafka_consumer(group_id) if self.kafka_consumer else None,
            new_group_from=new_group_from,
            fetch_min_bytes=fetch_min_bytes,
        )

    def _concurrent_consumer(
        self,
        topic: str,
        concurrent: OnConcurrent,
        group_id: str,
        limit: int,
        on_assigned: Callable[[set[TopicPartition]], Awaitable[None]] | None,
    ) -> TopicConsumer:
        async def work(record: Consumed, begun: Callable[[], None]) -> None:
            async def handle(envelope: Envelope[Event]) -> None:
                await concurrent(envelope, record, begun)

            await handle_or_dead_letter(
                record,
                handle,
                consumer=self.name,
                publish=self.publish,
                attempts=self.attempts,
                record_dead_letter=self.record_dead_letter,
            )

        runner = Concurrent(work, name=f"{self.name} {topic}", limit=limit)
        return TopicConsumer(
            topic,
            runner.handle,
            group_id=group_id,
            bootstrap_servers=self.bootstrap_servers,
            max_records=self.max_records,
            name=self.name,
            drain=runner.drain,
            on_assigned=on_assigned,
            consumer=self.kafka_consumer(group_id) if self.kafka_consumer else None,
        )

    def _plainly(
        self, on_batch: OnBatch | None, on_record: OnRecord | None
    ) -> Callable[[list[Consumed]], Awaitable[None]]:
        async def batch(records: list[Consumed]) -> None:
            assert on_batch is not None
            await handle_batch_or_dead_letter(
                records,
                on_batch,
                consumer=self.name,
                publish=self.publish,
                attempts=self.attempts,
                record_dead_letter=self.record_dead_letter,
            )

        async def each(records: list[Consumed]) -> None:
            assert on_record is not None
            for record in records:

                async def handle(envelope: Envelope[Event], record: Consumed = record) -> None:
                    await on_record(envelope, record)

                await handle_or_dead_letter(
                    record,
                    handle,
                    consumer=self.name,
                    publish=self.publish,
                    attempts=self.attempts,
                    record_dead_letter=self.record_dead_letter,
                )

        return batch if on_batch is not None else each

    @staticmethod
    def _planned(plan: Plan) -> Callable[[list[Consumed]], Awaitable[Flush]]:
        async def planned(records: list[Consumed]) -> Flush:
            # an invalid envelope raises: the batch goes the plain way, which dead-letters it
            return await plan([Envelope.parse(r.headers, r.value) for r in records])

        return planned


def _selecting(
    select: Select, handle: Callable[[list[Consumed]], Awaitable[None]]
) -> Callable[[list[Consumed]], Awaitable[None]]:
    async def selected(records: list[Consumed]) -> None:
        chosen = await select(records)
        if chosen:
            await handle(chosen)

    return selected


def _as_flush(
    plainly: Callable[[list[Consumed]], Awaitable[None]],
) -> Callable[[list[Consumed]], Awaitable[Flush]]:
    """Nothing to plan: the flush handles the batch (the delivery rule inside), so the next
    batch is read while this one is handled, and offsets are committed in the background."""

    async def plan(records: list[Consumed]) -> Flush:
        async def flush() -> None:
            await plainly(records)

        return flush

    return plan


def _nothing() -> None:
    return None
