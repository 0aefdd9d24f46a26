"""An in-memory Kafka for service tests: a service's real consumers (TopicConsumer, Pipeline and
the delivery rule, as ``Kit.consume`` builds them) and its publisher, without a broker.

Topics have partitions (a key goes to the partition Kafka's default partitioner picks, or the
test names one), consumer groups keep their committed offsets, and the group's assignment is the
test's to change: ``MemoryConsumer.rebalance`` calls the rebalance listener as a group
rebalance would (what was assigned revoked, then the new assignment given)::

    broker = MemoryBroker()
    kit = broker.kit("notifier", settings)
    consume(kit, service)                  # the service's own consumers
    async with running(kit):
        broker.send(topics.NOTIFICATION_REQUESTS, envelope, key=b"exe_1")
        await broker.idle()                # every record handled and its offset committed
    assert broker.events(topics.REPLIES) == [...]
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from aiokafka import TopicPartition
from aiokafka.errors import ConsumerStoppedError, IllegalStateError
from aiokafka.partitioner import murmur2
from contracts import Envelope
from contracts.events import Event
from pymongo.errors import DuplicateKeyError

from servicekit.delivery import Consumed
from servicekit.mongo import Database, Document
from servicekit.publisher import Unavailable
from servicekit.service import Kit
from servicekit.settings import ServiceSettings


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    """A record on a MemoryBroker topic, shaped as aiokafka's ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def envelope(self) -> Envelope[Event]:
        consumed = Consumed.from_record(self)
        return Envelope.parse(consumed.headers, consumed.value)


class MemoryBroker:
    def __init__(self, partitions: int = 4) -> None:
        """``partitions``: of every topic not created with ``create_topic``."""
        self.partitions = partitions
        self.available = True  # False: Kafka is down (publishes fail, readiness says so)
        self.commits: list[tuple[str, dict[TopicPartition, int]]] = []  # (group, offsets)
        self._logs: dict[str, list[list[MemoryRecord]]] = {}
        self._appended: list[MemoryRecord] = []
        self._committed: dict[str, dict[TopicPartition, int]] = {}
        self._members: list[MemoryConsumer] = []
        self._round_robin = itertools.count()

    # -- topics --

    def create_topic(self, topic: str, partitions: int) -> None:
        if topic in self._logs:
            raise ValueError(f"topic {topic} exists")
        self._logs[topic] = [[] for _ in range(partitions)]

    def partitions_of(self, topic: str) -> list[TopicPartition]:
        return [TopicPartition(topic, p) for p in range(len(self._log(topic)))]

    def partition_for(self, topic: str, key: bytes | None) -> int:
        """As Kafka's default partitioner: murmur2 of the key; round robin without one."""
        count = len(self._log(topic))
        if key is None:
            return next(self._round_robin) % count
        return int((murmur2(key) & 0x7FFFFFFF) % count)

    def append(
        self,
        topic: str,
        value: bytes,
        *,
        key: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        partition: int | None = None,
    ) -> MemoryRecord:
        """Put a record at the end of a partition (the key's, unless one is named)."""
        log = self._log(topic)
        chosen = self.partition_for(topic, key) if partition is None else partition
        encoded = tuple((k, v.encode()) for k, v in (headers or {}).items())
        record = MemoryRecord(topic, chosen, len(log[chosen]), key, value, encoded)
        log[chosen].append(record)
        self._appended.append(record)
        for member in self._members:
            if topic in member.topics:
                member.wake()
        return record

    def send(
        self,
        topic: str,
        envelope: Envelope[Any],
        *,
        key: bytes | None = None,
        partition: int | None = None,
    ) -> MemoryRecord:
        """Append an envelope (what a producer of the topic would send)."""
        return self.append(
            topic, envelope.body(), key=key, headers=envelope.headers(), partition=partition
        )

    def records(self, topic: str) -> list[MemoryRecord]:
        """Every record on ``topic``, in the order they were appended."""
        return [r for r in self._appended if r.topic == topic]

    def events(self, topic: str) -> list[Event]:
        """The events on ``topic``, in the order they were appended."""
        return [r.envelope().data for r in self.records(topic)]

    def highwater(self, tp: TopicPartition) -> int:
        return len(self._log(tp.topic)[tp.partition])

    def read(self, tp: TopicPartition, start: int) -> list[MemoryRecord]:
        return self._log(tp.topic)[tp.partition][start:]

    def _log(self, topic: str) -> list[list[MemoryRecord]]:
        if topic not in self._logs:
            self.create_topic(topic, self.partitions)
        return self._logs[topic]

    # -- groups --

    def committed(self, group_id: str, tp: TopicPartition) -> int | None:
        return self._committed.get(group_id, {}).get(tp)

    def commit(self, group_id: str, offsets: Mapping[TopicPartition, int]) -> None:
        self._committed.setdefault(group_id, {}).update(offsets)
        self.commits.append((group_id, dict(offsets)))

    def consumer(self, group_id: str) -> MemoryConsumer:
        """A new member of ``group_id`` (servicekit.consuming.KafkaConsumerFactory)."""
        return MemoryConsumer(self, group_id)

    def member(self, topic: str) -> MemoryConsumer:
        """The started consumer of ``topic`` (one per topic in a test)."""
        (member,) = [m for m in self._members if topic in m.topics]
        return member

    def joined(self, member: MemoryConsumer) -> None:
        self._members.append(member)

    def left(self, member: MemoryConsumer) -> None:
        self._members.remove(member)

    async def idle(self, timeout: float = 5.0) -> None:
        """Wait until every consumer has read all of its partitions and committed it: every
        record is handled (and what handling published is on its topic)."""
        async with asyncio.timeout(timeout):
            while not all(m.caught_up() for m in self._members):  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    # -- a service on this broker --

    def publisher(self) -> MemoryPublisher:
        return MemoryPublisher(self)

    def kit(self, name: str, settings: ServiceSettings, mongo: MemoryMongo | None = None) -> Kit:
        """A service kit on this broker (and an in-memory MongoDB) instead of the real ones."""
        return Kit(
            name,
            settings,
            mongo=mongo or MemoryMongo(),
            publisher=self.publisher(),
            kafka_consumer=self.consumer,
        )


class MemoryConsumer:
    """What TopicConsumer and Pipeline use of aiokafka's AIOKafkaConsumer, on a MemoryBroker.
    Started, it is given every partition of its topics (a group of one) unless
    ``assign_on_start`` is False; ``rebalance`` / ``revoke`` / ``assign`` move partitions."""

    def __init__(self, broker: MemoryBroker, group_id: str, *, assign_on_start: bool = True):
        self.broker = broker
        self.group_id = group_id
        self.assign_on_start = assign_on_start
        self.topics: list[str] = []
        self.listener: Any = None
        self.stopped = False
        self._started = False
        self._assigned: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}
        self._wake = asyncio.Event()

    def subscribe(self, topics: list[str], listener: Any = None) -> None:
        self.topics = list(topics)
        self.listener = listener

    async def start(self) -> None:
        self._started = True
        self.broker.joined(self)
        if self.assign_on_start:
            await self.assign(tp for t in self.topics for tp in self.broker.partitions_of(t))

    async def stop(self) -> None:
        """Leaves the group (the partitions are nobody's until a rebalance gives them out)."""
        self.stopped = True
        if self._started:
            self._started = False
            self.broker.left(self)
        self._assigned.clear()
        self._wake.set()

    # -- the group, as the test moves it --

    async def rebalance(self, partitions: Iterable[int | TopicPartition]) -> None:
        """A group rebalance: everything assigned is revoked, then ``partitions`` assigned."""
        await self.revoke()
        await self.assign(partitions)

    async def revoke(self, partitions: Iterable[int | TopicPartition] | None = None) -> None:
        """Take partitions away (default: all), telling the listener first."""
        gone = self._assigned if partitions is None else self._tps(partitions) & self._assigned
        gone = set(gone)
        if self.listener is not None:
            await self.listener.on_partitions_revoked(gone)
        self._assigned -= gone
        for tp in gone:
            self._positions.pop(tp, None)

    async def assign(self, partitions: Iterable[int | TopicPartition]) -> None:
        """Add partitions; each is read from its committed offset (or the beginning)."""
        given = self._tps(partitions)
        for tp in given - self._assigned:
            self._positions[tp] = self.broker.committed(self.group_id, tp) or 0
        self._assigned |= given
        if self.listener is not None:
            await self.listener.on_partitions_assigned(set(self._assigned))
        self._wake.set()

    def _tps(self, partitions: Iterable[int | TopicPartition]) -> set[TopicPartition]:
        """An int is that partition of each subscribed topic."""
        tps: set[TopicPartition] = set()
        for p in partitions:
            if isinstance(p, TopicPartition):
                tps.add(p)
            else:
                tps.update(TopicPartition(t, p) for t in self.topics)
        return tps

    def fetched_all(self) -> bool:
        """Every record of the assigned partitions was handed out by ``getmany``."""
        return all(self._positions[tp] == self.broker.highwater(tp) for tp in self._assigned)

    def caught_up(self) -> bool:
        """Every record of the assigned partitions handed out and its offset committed."""
        return self.fetched_all() and all(
            self.broker.committed(self.group_id, tp) == self.broker.highwater(tp)
            for tp in self._assigned
            if self.broker.highwater(tp)
        )

    def wake(self) -> None:
        self._wake.set()

    # -- aiokafka's surface --

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[MemoryRecord]]:
        """What is after the position of each assigned partition (the position moves past it);
        waits up to ``timeout_ms`` for something to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000
        while True:
            if self.stopped:
                raise ConsumerStoppedError()
            fetched = self._fetch(set(partitions) or self._assigned, max_records)
            if fetched:
                return fetched
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                return {}

    def _fetch(
        self, partitions: set[TopicPartition], max_records: int | None
    ) -> dict[TopicPartition, list[MemoryRecord]]:
        fetched: dict[TopicPartition, list[MemoryRecord]] = {}
        room = max_records
        for tp in sorted(partitions & self._assigned):
            records = self.broker.read(tp, self._positions[tp])[:room]
            if records:
                fetched[tp] = records
                self._positions[tp] = records[-1].offset + 1
                if room is not None:
                    room -= len(records)
                    if room == 0:
                        break
        return fetched

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.broker.commit(self.group_id, offsets)

    async def committed(self, partition: TopicPartition) -> int | None:
        return self.broker.committed(self.group_id, partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._assigned_or_raise(partition)
        self._positions[partition] = offset
        self._wake.set()

    async def seek_to_beginning(self, *partitions: TopicPartition) -> bool:
        for tp in partitions or tuple(self._assigned):
            self.seek(tp, 0)
        return True

    async def position(self, partition: TopicPartition) -> int:
        self._assigned_or_raise(partition)
        return self._positions[partition]

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.broker.highwater(partition) if partition in self._assigned else None

    def _assigned_or_raise(self, partition: TopicPartition) -> None:
        if partition not in self._assigned:
            raise IllegalStateError(f"No current assignment for partition {partition}")


class MemoryPublisher:
    """servicekit.publisher.Publisher's surface, appending to a MemoryBroker's topics."""

    def __init__(self, broker: MemoryBroker) -> None:
        self.broker = broker
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def publish(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        if not self.broker.available:
            raise Unavailable(f"Kafka did not acknowledge a message to {topic}: broker down")
        self.broker.append(topic, value, key=key, headers=headers)

    async def reachable(self) -> bool:
        return self.started and self.broker.available


class MemoryCollection:
    """Documents by ``_id``: inserted once (a second insert of an ``_id`` is a duplicate key)
    and found by equality of top-level fields."""

    def __init__(self) -> None:
        self.documents: dict[Any, Document] = {}

    async def insert_one(self, document: Document) -> None:
        if document["_id"] in self.documents:
            raise DuplicateKeyError(f"E11000 duplicate key: {document['_id']!r}")
        self.documents[document["_id"]] = dict(document)

    async def find_one(self, query: Mapping[str, Any]) -> Document | None:
        for document in self.documents.values():
            if all(document.get(k) == v for k, v in query.items()):
                return dict(document)
        return None


class MemoryDatabase:
    def __init__(self) -> None:
        self.collections: dict[str, MemoryCollection] = {}

    def __getattr__(self, name: str) -> MemoryCollection:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> MemoryCollection:
        return self.collections.setdefault(name, MemoryCollection())


class MemoryMongo:
    """The kit's MongoDB for tests: it answers while ``available``, and its database keeps
    what is inserted by ``_id``: enough for the dead-letter repository. A service's own
    repositories get in-memory stand-ins of their own in its tests."""

    def __init__(self) -> None:
        self.available = True
        self.closed = False
        self.memory = MemoryDatabase()

    @property
    def db(self) -> Database:
        return cast(Database, self.memory)  # only the operations MemoryCollection has

    def dead_letters(self) -> list[Document]:
        """What the dead-letter repository stored."""
        return list(self.memory["dead_letters"].documents.values())

    async def reachable(self) -> bool:
        return self.available

    async def is_ferretdb(self) -> bool:
        return False

    async def pushes_down_fields(self, collection: str) -> bool:
        return True

    async def close(self) -> None:
        self.closed = True


@asynccontextmanager
async def running(kit: Kit) -> AsyncIterator[Kit]:
    """The kit started (publisher, consumers, background tasks) and stopped at the end."""
    await kit.start()
    try:
        yield kit
    finally:
        await kit.stop()
