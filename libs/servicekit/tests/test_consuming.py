"""Consuming's three shapes of handler on the in-memory broker (Kit.consume: TopicConsumer,
Pipeline and the delivery rule): a batch handled together, a record with its partition, a plan
flushed; a poison record dead-lettered alone; offsets committed only after the handling; the
consumer told what the group gives and takes, after what it handled is committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from contracts import Envelope, topics
from contracts.events import DeadLettered, Event, TriggerReceived
from servicekit.delivery import Consumed
from servicekit.pipeline import Flush
from servicekit.service import Kit
from servicekit.settings import ServiceSettings
from servicekit.testing import MemoryBroker, MemoryMongo, running

TOPIC = "consuming.triggers"


def trigger(n: int) -> Envelope[TriggerReceived]:
    event = TriggerReceived(
        trigger_id=f"t{n}", tenant_id="ten", trigger_type="New Order", received_at=datetime.now(UTC)
    )
    return Envelope.wrap(event, source="/test", tenant_id="ten")


def ids(envelopes: list[Envelope[Event]]) -> list[str]:
    return [e.data.trigger_id for e in envelopes]  # type: ignore[attr-defined]


class Harness:
    def __init__(self, partitions: int = 4) -> None:
        self.broker = MemoryBroker(partitions=partitions)
        self.mongo = MemoryMongo()
        settings = ServiceSettings(group_id="consuming-test", handling_attempts=1)
        self.kit: Kit = self.broker.kit("svc", settings, self.mongo)

    def send(self, *ns: int, partition: int | None = None) -> None:
        for n in ns:
            self.broker.send(TOPIC, trigger(n), key=f"k{n}".encode(), partition=partition)

    def committed(self) -> dict[TopicPartition, int]:
        return {
            tp: offset
            for tp in self.broker.partitions_of(TOPIC)
            if (offset := self.broker.committed("consuming-test", tp)) is not None
        }

    def ends(self) -> dict[TopicPartition, int]:
        return {
            tp: self.broker.highwater(tp)
            for tp in self.broker.partitions_of(TOPIC)
            if self.broker.highwater(tp)
        }

    def dead(self) -> list[DeadLettered]:
        return self.broker.events(topics.DEAD_LETTERS)  # type: ignore[return-value]


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


async def test_on_batch_is_given_what_was_read_together_and_commits_after_it() -> None:
    harness, batches, release = Harness(), [], asyncio.Event()

    async def on_batch(envelopes: list[Envelope[Event]]) -> None:
        batches.append(sorted(ids(envelopes)))
        await release.wait()

    harness.kit.consume(TOPIC, on_batch=on_batch)
    harness.send(1, 2, 3)  # there before the consumer starts: read in one fetch
    async with running(harness.kit):
        await until(lambda: bool(batches))
        await asyncio.sleep(0.2)  # past the pipeline's commit interval
        assert harness.broker.commits == []  # nothing committed while the batch is handled
        release.set()
        await harness.broker.idle()
    assert batches == [["t1", "t2", "t3"]]
    assert harness.committed() == harness.ends()


async def test_a_poison_record_in_a_batch_is_dead_lettered_alone() -> None:
    harness, handled = Harness(), []

    async def on_batch(envelopes: list[Envelope[Event]]) -> None:
        if "t2" in ids(envelopes):
            raise ValueError("t2 cannot be handled")
        handled.extend(ids(envelopes))

    harness.kit.consume(TOPIC, on_batch=on_batch)
    harness.send(1, 2, 3)
    harness.broker.append(TOPIC, b"not json", headers={"ce_type": "TriggerReceived"})
    async with running(harness.kit):
        await harness.broker.idle()
    assert sorted(handled) == ["t1", "t3"]
    dead = harness.dead()
    assert sorted(d.error_type for d in dead) == ["EnvelopeError", "ValueError"]
    poisoned = next(d for d in dead if d.error_type == "ValueError")
    assert '"t2"' in poisoned.original_value and poisoned.consumer == "svc"
    stored = sorted(doc["_id"] for doc in harness.mongo.dead_letters())
    assert stored == sorted(d.dead_letter_id for d in dead)
    assert harness.committed() == harness.ends()  # the poison does not block its partition


async def test_on_record_is_given_each_record_with_its_partition_in_order() -> None:
    harness, seen = Harness(), []

    async def on_record(envelope: Envelope[Event], record: Consumed) -> None:
        seen.append((ids([envelope])[0], record.partition, record.offset))

    harness.kit.consume(TOPIC, on_record=on_record)
    harness.send(1, 2, partition=2)
    harness.send(3, partition=3)
    async with running(harness.kit):
        await harness.broker.idle()
    assert sorted(seen) == [("t1", 2, 0), ("t2", 2, 1), ("t3", 3, 0)]
    assert [s for s in seen if s[1] == 2] == [("t1", 2, 0), ("t2", 2, 1)]
    assert harness.committed() == {TopicPartition(TOPIC, 2): 2, TopicPartition(TOPIC, 3): 1}


async def test_a_failing_record_is_dead_lettered_and_the_next_one_handled() -> None:
    harness, seen = Harness(), []

    async def on_record(envelope: Envelope[Event], record: Consumed) -> None:
        if ids([envelope]) == ["t1"]:
            raise RuntimeError("boom")
        seen.extend(ids([envelope]))

    harness.kit.consume(TOPIC, on_record=on_record)
    harness.send(1, 2, partition=0)
    async with running(harness.kit):
        await harness.broker.idle()
    [dead] = harness.dead()
    assert (dead.original_partition, dead.original_offset, dead.error) == (0, 0, "boom")
    assert seen == ["t2"]


async def test_a_plan_is_flushed_and_committed_after_its_flush() -> None:
    harness, log, release = Harness(), [], asyncio.Event()

    async def plan(envelopes: list[Envelope[Event]]) -> Flush:
        log.append(f"plan {sorted(ids(envelopes))}")

        async def flush() -> None:
            await release.wait()
            log.append("flushed")

        return flush

    async def on_batch(envelopes: list[Envelope[Event]]) -> None:
        log.append(f"plainly {sorted(ids(envelopes))}")

    harness.kit.consume(TOPIC, plan=plan, on_batch=on_batch)
    harness.send(1, 2)
    async with running(harness.kit):
        await until(lambda: bool(log))
        await asyncio.sleep(0.2)
        assert harness.broker.commits == []  # not before the flush is done
        release.set()
        await harness.broker.idle()
    assert log == ["plan ['t1', 't2']", "flushed"]
    assert harness.committed() == harness.ends()


async def test_a_batch_that_cannot_be_planned_is_handled_plainly() -> None:
    harness, log = Harness(), []

    async def plan(envelopes: list[Envelope[Event]]) -> Flush:
        raise ValueError("cannot plan")

    async def on_batch(envelopes: list[Envelope[Event]]) -> None:
        log.append(sorted(ids(envelopes)))

    harness.kit.consume(TOPIC, plan=plan, on_batch=on_batch)
    harness.send(1, 2)
    async with running(harness.kit):
        await harness.broker.idle()
    assert log == [["t1", "t2"]]


@pytest.mark.parametrize("handlers", [{}, {"on_batch": 1, "on_record": 1}])
def test_exactly_one_of_on_batch_and_on_record(handlers: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Harness().kit.consume(TOPIC, **handlers)


async def test_the_consumer_is_told_its_partitions_and_joined_follows_the_group() -> None:
    harness, events = Harness(partitions=2), []
    handled: list[int] = []

    async def on_record(envelope: Envelope[Event], record: Consumed) -> None:
        handled.append(record.partition)

    async def assigned(partitions: set[TopicPartition]) -> None:
        events.append(("assigned", {tp.partition for tp in partitions}))

    async def revoked(partitions: set[TopicPartition]) -> None:
        # what was handled of them is committed before they go
        committed = {
            tp.partition: harness.broker.committed("consuming-test", tp) for tp in partitions
        }
        events.append(("revoked", committed))

    consumer = harness.kit.consume(
        TOPIC, on_record=on_record, on_assigned=assigned, on_revoked=revoked
    )
    assert not consumer.joined
    async with running(harness.kit):
        assert consumer.joined and events == [("assigned", {0, 1})]
        harness.send(1, partition=1)
        await until(lambda: handled == [1])
        member = harness.broker.member(TOPIC)
        await member.revoke({1})  # before the background commit is due
        assert not consumer.joined
        assert events[-1] == ("revoked", {1: 1})
        await member.assign({1})
        assert consumer.joined and events[-1] == ("assigned", {0, 1})
