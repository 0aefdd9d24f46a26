"""The timers topic through FastStream's in-memory broker: requests and cancels in, settlements
and dead letters out; the group's assignment decides which timers this replica fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition  # type: ignore[import-untyped]
from contracts import Envelope, topics
from contracts.events import DeadLettered, EffectSettled, Event
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from scheduler.handlers.kafka import TimerPartitions, Wiring, build_router
from scheduler.service import TimerService


class Harness:
    def __init__(self, timers) -> None:  # type: ignore[no-untyped-def]
        self.broker = KafkaBroker()
        self.wiring = Wiring()
        self.broker.include_router(build_router("scheduler-test", self.wiring))
        self.commands: list[tuple[bytes | None, Event]] = []
        self.dead_topic: list[Event] = []
        self.dead_recorded: list[DeadLettered] = []
        self.timers = timers

        @self.broker.subscriber(topics.EXECUTION_COMMANDS)
        async def on_command(message: KafkaMessage) -> None:
            event = Envelope.parse(message.headers, message.body).data
            self.commands.append((message.raw_message.key, event))  # type: ignore[union-attr]

        @self.broker.subscriber(topics.DEAD_LETTERS)
        async def on_dead_letter(message: KafkaMessage) -> None:
            self.dead_topic.append(Envelope.parse(message.headers, message.body).data)

    def wire(self, test_broker: TestKafkaBroker) -> TimerService:
        async def publish(
            value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
        ) -> None:
            await test_broker.publish(value, topic, key=key, headers=headers)

        async def record(dead: DeadLettered) -> None:
            self.dead_recorded.append(dead)

        self.wiring.publish, self.wiring.attempts = publish, 2
        self.wiring.record_dead_letter = record
        self.wiring.service = TimerService(self.timers, publish, owner="test")
        return self.wiring.service

    async def send(self, test_broker: TestKafkaBroker, envelope: Envelope, partition: int) -> None:  # type: ignore[type-arg]
        await test_broker.publish(
            envelope.body(),
            topics.TIMER_REQUESTS,
            key=envelope.data.execution_id.encode(),  # type: ignore[attr-defined]
            partition=partition,
            headers=envelope.headers(),
        )


async def test_a_request_is_stored_with_its_partition_and_fires_as_a_command(
    timers, timer_request
) -> None:
    harness = Harness(timers)
    async with TestKafkaBroker(harness.broker) as test_broker:
        service = harness.wire(test_broker)
        now = datetime.now(UTC)
        await harness.send(test_broker, timer_request("exe_7:w:1", now, "exe_7"), partition=4)
        await harness.send(test_broker, timer_request("exe_7:w:1", now, "exe_7"), partition=4)
        assert timers.docs["exe_7:w:1"]["partition"] == 4
        assert timers.status("exe_7:w:1") == "pending"

        await service.partitions_assigned({1, 2})
        assert await service.fire_due() == 0  # partition 4 is another replica's
        await service.partitions_assigned({4})
        assert await service.fire_due() == 1

    assert len(harness.commands) == 1
    key, event = harness.commands[0]
    assert key == b"exe_7"
    assert isinstance(event, EffectSettled) and event.effect_id == "w:1"


async def test_a_cancel_on_the_topic_stops_the_timer(timers, timer_request, timer_cancel) -> None:
    harness = Harness(timers)
    async with TestKafkaBroker(harness.broker) as test_broker:
        service = harness.wire(test_broker)
        await service.partitions_assigned({0})
        fire_at = datetime.now(UTC) - timedelta(seconds=1)
        await harness.send(test_broker, timer_request("exe_1:w:1", fire_at), partition=0)
        await harness.send(test_broker, timer_cancel("exe_1:w:1"), partition=0)
        await harness.send(test_broker, timer_cancel("exe_1:early:1"), partition=0)
        await harness.send(test_broker, timer_request("exe_1:early:1", fire_at), partition=0)
        assert await service.fire_due() == 0

    assert harness.commands == []
    assert timers.status("exe_1:w:1") == "cancelled"
    assert timers.docs["exe_1:early:1"]["tombstone"] is True


async def test_a_poison_message_is_dead_lettered_and_recorded_and_the_next_one_flows(
    timers, timer_request
) -> None:
    harness = Harness(timers)
    async with TestKafkaBroker(harness.broker) as test_broker:
        harness.wire(test_broker)
        await test_broker.publish(
            b"{not json", topics.TIMER_REQUESTS, key=b"exe_9", headers={"ce_type": "Nope"}
        )
        await harness.send(test_broker, timer_request("exe_1:w:1", datetime.now(UTC)), 3)

    assert len(harness.dead_topic) == 1 and len(harness.dead_recorded) == 1
    dead = harness.dead_recorded[0]
    assert dead == harness.dead_topic[0]
    assert (dead.consumer, dead.original_topic, dead.original_key) == (
        "scheduler",
        topics.TIMER_REQUESTS,
        "exe_9",
    )
    assert "exe_1:w:1" in timers.docs


async def test_the_group_assignment_of_the_timers_topic_is_what_the_replica_fires(
    timers, published
) -> None:
    wiring = Wiring()
    wiring.service = TimerService(timers, published, owner="test")
    listener = TimerPartitions(wiring)
    other = topics.EXECUTION_COMMANDS

    await listener.on_partitions_assigned(
        {TopicPartition(topics.TIMER_REQUESTS, 0), TopicPartition(topics.TIMER_REQUESTS, 3)}
        | {TopicPartition(other, 1)}
    )
    assert wiring.service.owned_partitions == {0, 3}
    await listener.on_partitions_revoked({TopicPartition(topics.TIMER_REQUESTS, 3)})
    assert wiring.service.owned_partitions == {0}
