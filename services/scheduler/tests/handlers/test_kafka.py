"""The scheduler's own consumer of the timers topic on the kit's in-memory broker: requests and
cancels in, settlements and dead letters out; the group's assignment of the timers topic
decides which timers this replica fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition
from contracts import Envelope, topics
from contracts.events import DeadLettered, EffectSettled, Event
from scheduler.app import NAME
from scheduler.handlers import kafka
from scheduler.service import TimerService
from scheduler.settings import Settings
from servicekit.testing import MemoryBroker, MemoryConsumer, MemoryMongo, running

PARTITIONS = 8


class Scheduler:
    """The scheduler's consumer on an in-memory broker (the firing loop is the test's to run:
    ``service.fire_due()``)."""

    def __init__(self, timers) -> None:  # type: ignore[no-untyped-def]
        self.broker = MemoryBroker(partitions=PARTITIONS)
        self.mongo = MemoryMongo()
        self.timers = timers
        self.kit = self.broker.kit(NAME, Settings(handling_attempts=2), self.mongo)
        self.service = TimerService(timers, self.kit.publish, owner="test")
        kafka.consume(self.kit, self.service)

    @property
    def member(self) -> MemoryConsumer:
        """The consumer group's member reading the timers topic."""
        return self.broker.member(topics.TIMER_REQUESTS)

    async def send(self, envelope: Envelope, partition: int) -> None:  # type: ignore[type-arg]
        self.broker.send(
            topics.TIMER_REQUESTS,
            envelope,
            key=envelope.data.execution_id.encode(),  # type: ignore[attr-defined]
            partition=partition,
        )
        await self.broker.idle()

    def commands(self) -> list[tuple[bytes | None, Event]]:
        return [(r.key, r.envelope().data) for r in self.broker.records(topics.EXECUTION_COMMANDS)]


async def test_a_request_is_stored_with_its_partition_and_fires_as_a_command(
    timers, timer_request
) -> None:
    scheduler = Scheduler(timers)
    async with running(scheduler.kit):
        now = datetime.now(UTC)
        await scheduler.send(timer_request("exe_7:w:1", now, "exe_7"), partition=4)
        await scheduler.send(timer_request("exe_7:w:1", now, "exe_7"), partition=4)
        assert timers.docs["exe_7:w:1"]["partition"] == 4
        assert timers.status("exe_7:w:1") == "pending"

        await scheduler.member.rebalance({1, 2})
        assert await scheduler.service.fire_due() == 0  # partition 4 is another replica's
        await scheduler.member.rebalance({4})
        assert await scheduler.service.fire_due() == 1

    assert len(scheduler.commands()) == 1
    key, event = scheduler.commands()[0]
    assert key == b"exe_7"
    assert isinstance(event, EffectSettled) and event.effect_id == "w:1"


async def test_a_cancel_on_the_topic_stops_the_timer(timers, timer_request, timer_cancel) -> None:
    scheduler = Scheduler(timers)
    async with running(scheduler.kit):
        await scheduler.member.rebalance({0})
        fire_at = datetime.now(UTC) - timedelta(seconds=1)
        await scheduler.send(timer_request("exe_1:w:1", fire_at), partition=0)
        await scheduler.send(timer_cancel("exe_1:w:1"), partition=0)
        await scheduler.send(timer_cancel("exe_1:early:1"), partition=0)
        await scheduler.send(timer_request("exe_1:early:1", fire_at), partition=0)
        assert await scheduler.service.fire_due() == 0

    assert scheduler.commands() == []
    assert timers.status("exe_1:w:1") == "cancelled"
    assert timers.docs["exe_1:early:1"]["tombstone"] is True


async def test_a_poison_message_is_dead_lettered_and_recorded_and_the_next_one_flows(
    timers, timer_request
) -> None:
    scheduler = Scheduler(timers)
    async with running(scheduler.kit):
        scheduler.broker.append(
            topics.TIMER_REQUESTS, b"{not json", key=b"exe_9", headers={"ce_type": "Nope"}
        )
        await scheduler.send(timer_request("exe_1:w:1", datetime.now(UTC)), 3)

    [on_topic] = scheduler.broker.events(topics.DEAD_LETTERS)
    [stored] = scheduler.mongo.dead_letters()
    assert isinstance(on_topic, DeadLettered)
    assert stored["_id"] == on_topic.dead_letter_id
    assert (on_topic.consumer, on_topic.original_topic, on_topic.original_key) == (
        "scheduler",
        topics.TIMER_REQUESTS,
        "exe_9",
    )
    assert "exe_1:w:1" in timers.docs


async def test_the_group_assignment_of_the_timers_topic_is_what_the_replica_fires(
    timers, timer_request
) -> None:
    scheduler = Scheduler(timers)
    async with running(scheduler.kit):
        # started alone in its group: every partition is this replica's
        assert scheduler.service.owned_partitions == set(range(PARTITIONS))
        due = datetime.now(UTC) - timedelta(seconds=1)
        await scheduler.send(timer_request("exe_1:w:1", due, "exe_1"), partition=0)
        await scheduler.send(timer_request("exe_3:w:1", due, "exe_3"), partition=3)

        await scheduler.member.rebalance({0, 5})  # partition 3 went to another replica
        assert scheduler.service.owned_partitions == {0, 5}
        assert await scheduler.service.fire_due() == 1
        await scheduler.member.rebalance({0, 3})  # and came back
        assert scheduler.service.owned_partitions == {0, 3}
        assert await scheduler.service.fire_due() == 1
        await scheduler.member.revoke()  # a rebalance begins: nothing is fired meanwhile
        assert scheduler.service.owned_partitions == set()

    assert [key for key, _ in scheduler.commands()] == [b"exe_1", b"exe_3"]


async def test_only_partitions_of_the_timers_topic_are_owned(timers) -> None:
    scheduler = Scheduler(timers)
    async with running(scheduler.kit):
        listener = scheduler.member.listener  # the consumer's, as aiokafka calls it
        other = topics.EXECUTION_COMMANDS
        await listener.on_partitions_assigned(
            {TopicPartition(topics.TIMER_REQUESTS, 0), TopicPartition(topics.TIMER_REQUESTS, 3)}
            | {TopicPartition(other, 1)}
        )
        assert scheduler.service.owned_partitions == {0, 3}
        await listener.on_partitions_revoked(
            {TopicPartition(topics.TIMER_REQUESTS, 3), TopicPartition(other, 1)}
        )
        assert scheduler.service.owned_partitions == {0}
