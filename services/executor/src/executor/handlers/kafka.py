"""Kafka consumers of the executor: triggers in, commands in, in batches.

One consumer per topic (two members of the executor's group), each reading while the batch
before is handled (servicekit.consumer). A batch is up to ``batch_max_records`` records,
handled together (one round of MongoDB writes and one of sends); it is planned while the one
before it is written and sent, and offsets are committed by the pipeline, in order, only after
their batch is durable and sent (servicekit.pipeline). A batch that cannot be planned, or that
a failed flush covered, is handled the plain way (servicekit.delivery)."""

from __future__ import annotations

from contracts import topics
from servicekit.service import Kit

from executor.runtime.service import ExecutionService


def consume(kit: Kit, service: ExecutionService) -> None:
    kit.consume(
        topics.TRIGGERS,
        plan=service.triggers.plan,
        on_batch=service.triggers.on_batch,
        forget=service.forget,
    )
    kit.consume(
        topics.EXECUTION_COMMANDS,
        plan=service.commands.plan,
        on_batch=service.commands.on_batch,
        forget=service.forget,
    )
