"""Kafka consumers of the executor: triggers in, commands in, in batches.

One consumer per topic (two members of the executor's group), each reading while the batch
before is handled (runtime/consumer.py). A batch is up to ``max_records`` records, handled
together (one round of MongoDB writes and one of sends); it is planned while the one before it
is written and sent, and offsets are committed by the pipeline, in order, only after their batch
is durable and sent (runtime/pipeline.py). A batch that cannot be planned, or that a failed
flush covered, is handled the plain way: contracts.delivery.handle_batch_or_dead_letter."""

from __future__ import annotations

from typing import Any

from contracts import Envelope, topics
from contracts.delivery import Consumed, Publish, RecordDeadLetter, handle_batch_or_dead_letter

from executor.runtime.consumer import TopicConsumer
from executor.runtime.pipeline import Flush, Pipeline
from executor.runtime.service import ExecutionService

CONSUMER = "executor"


def build_consumers(
    service: ExecutionService,
    *,
    group_id: str,
    bootstrap_servers: str,
    publish: Publish,
    record_dead_letter: RecordDeadLetter,
    attempts: int,
    max_records: int = 100,
) -> list[TopicConsumer]:
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
                publish=publish,
                attempts=attempts,
                record_dead_letter=record_dead_letter,
            )

        return Pipeline(planned, plainly, service.forget, name=f"{CONSUMER} {topic}")

    def consumer(topic: str, pipe: Pipeline) -> TopicConsumer:
        return TopicConsumer(
            topic,
            pipe.handle,
            group_id=group_id,
            bootstrap_servers=bootstrap_servers,
            max_records=max_records,
            settle=pipe.settle,  # commit what was handled before partitions go, and at stop
        )

    return [
        consumer(
            topics.TRIGGERS, pipeline(topics.TRIGGERS, service.plan_triggers, service.on_triggers)
        ),
        consumer(
            topics.EXECUTION_COMMANDS,
            pipeline(topics.EXECUTION_COMMANDS, service.plan_commands, service.on_commands),
        ),
    ]
