"""Kafka consumers of the executor: triggers in, commands in, in batches.

Each poll returns up to ``max_records`` records, handled together (one round of MongoDB writes
and one of sends). A batch is planned while the one before it is written and sent, and offsets
are committed by the pipeline, in order, only after their batch is durable and sent
(runtime/pipeline.py; AckPolicy.MANUAL: FastStream commits nothing itself). A batch that cannot
be planned, or that a failed flush covered, is handled the plain way:
contracts.delivery.handle_batch_or_dead_letter."""

from __future__ import annotations

from typing import Any, cast

from contracts import Envelope, topics
from contracts.delivery import Consumed, Publish, RecordDeadLetter, handle_batch_or_dead_letter
from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from executor.runtime.pipeline import Flush, Pipeline
from executor.runtime.service import ExecutionService

CONSUMER = "executor"


class Wiring:
    """Filled in at start-up, once MongoDB and Kafka are connected."""

    service: ExecutionService
    pipelines: dict[str, Pipeline]  # by topic, made at its first batch
    publish: Publish
    record_dead_letter: RecordDeadLetter
    attempts: int


def consumed(message: KafkaMessage) -> list[Consumed]:
    """The records of a batch as the delivery rule wants them."""
    return [Consumed.from_record(r) for r in cast(tuple[Any, ...], message.raw_message)]


async def undecoded(message: Any) -> None:
    """FastStream would decode every record's body as JSON for a handler argument we do not
    take: the records are parsed once, into envelopes, by contracts.delivery."""
    return None


def build_router(
    group_id: str, wiring: Wiring, *, max_records: int = 100, batch_timeout_ms: int = 5
) -> KafkaRouter:
    """``batch_timeout_ms``: how long a poll waits for the first record; FastStream sleeps
    as long again after an empty poll, so it bounds the latency added on a quiet system."""
    router = KafkaRouter()

    def subscriber(topic: str) -> Any:
        return router.subscriber(
            topic,
            group_id=group_id,
            ack_policy=AckPolicy.MANUAL,  # the pipeline commits, in order
            auto_offset_reset="earliest",
            batch=True,
            max_records=max_records,
            batch_timeout_ms=batch_timeout_ms,
            decoder=undecoded,  # the handler reads the raw records
        )

    def pipeline(topic: str, plan: Any, handle_batch: Any) -> Pipeline:
        async def planned(records: list[Consumed]) -> Flush:
            # an invalid envelope raises: the batch goes the plain way, which dead-letters it
            envelopes = [Envelope.parse(r.headers, r.value) for r in records]
            flush: Flush = await plan(envelopes)
            return flush

        async def plainly(records: list[Consumed]) -> None:
            await handle_batch_or_dead_letter(
                records,
                handle_batch,
                consumer=CONSUMER,
                publish=wiring.publish,
                attempts=wiring.attempts,
                record_dead_letter=wiring.record_dead_letter,
            )

        return Pipeline(planned, plainly, wiring.service.forget, name=f"{CONSUMER} {topic}")

    pipelines: dict[str, Pipeline] = {}
    wiring.pipelines = pipelines

    def pipeline_of(topic: str) -> Pipeline:
        """Made at the first batch: the service exists once the app has started."""
        if topic not in pipelines:
            service = wiring.service
            pipelines[topic] = (
                pipeline(topic, service.plan_triggers, service.on_triggers)
                if topic == topics.TRIGGERS
                else pipeline(topic, service.plan_commands, service.on_commands)
            )
        return pipelines[topic]

    @subscriber(topics.TRIGGERS)
    async def on_triggers_received(message: KafkaMessage) -> None:
        await pipeline_of(topics.TRIGGERS).handle(message.consumer, consumed(message))

    @subscriber(topics.EXECUTION_COMMANDS)
    async def on_execution_commands(message: KafkaMessage) -> None:
        await pipeline_of(topics.EXECUTION_COMMANDS).handle(message.consumer, consumed(message))

    return router
