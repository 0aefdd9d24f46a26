"""A topic's tail: every record published to it after start-up, read by this process alone.

A consumer group splits a topic's partitions between its members, so each record reaches one
of them. Fan-out to what one process holds (the gateway's open reply streams: each process
must see every reply for the visitors connected to it) needs the opposite: no group, every
partition assigned to this process, read from its end. Nothing is committed; a restart starts
at the end again, so what a tail delivers must be recoverable from elsewhere (the gateway
replays a stream from MongoDB on reconnect).

``TopicTail.run`` is a kit background task (``kit.background(tail.run)``), ``ready`` a
readiness check (``kit.checks[...] = tail.ready``): ready once every partition's end offset is
known, so what is published after /readyz answers is delivered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

from servicekit.delivery import Consumed

log = logging.getLogger(__name__)

OnRecords = Callable[[list[Consumed]], Awaitable[None]]
RETRY_SECONDS = 1.0


class TopicTail:
    def __init__(
        self,
        topic: str,
        on_records: OnRecords,
        *,
        bootstrap_servers: str,
        consumer: Callable[[], Any] | None = None,
    ) -> None:
        """``on_records(records)``: each fetch's records, in partition order (an exception is
        logged and the records dropped: a tail never stops for one); ``consumer``: makes the
        aiokafka consumer to read with (tests)."""
        self.topic = topic
        self._on_records = on_records
        self._make = consumer or (
            lambda: AIOKafkaConsumer(
                bootstrap_servers=bootstrap_servers,
                group_id=None,  # no group: every partition is this process's own
                enable_auto_commit=False,
            )
        )
        self._positioned = False

    async def ready(self) -> bool:
        """Every partition is assigned and its end offset known."""
        return self._positioned

    async def run(self) -> None:
        """Read until cancelled; a failed start (the broker not answering) is retried."""
        while True:
            consumer = self._make()
            try:
                await self._follow(consumer)
            except (KafkaError, OSError) as exc:
                log.warning(
                    "tail of %s: %r; starting again in %s s", self.topic, exc, RETRY_SECONDS
                )
            finally:
                self._positioned = False
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self, consumer: Any) -> None:
        await consumer.start()
        # a consumer without a group or subscription keeps no metadata of the topic yet: ask
        # the brokers (aiokafka's client, as the publisher's readiness check does)
        cluster = await consumer._client.fetch_all_metadata()
        numbers = cluster.partitions_for_topic(self.topic)
        if not numbers:
            raise KafkaError(f"topic {self.topic} has no partitions (does it exist?)")
        partitions = [TopicPartition(self.topic, p) for p in sorted(numbers)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now: published after this is seen
            await consumer.position(tp)
        self._positioned = True
        while True:
            try:
                fetched = await consumer.getmany(timeout_ms=1000)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.warning("tail of %s: reading failed (%r): retrying", self.topic, exc)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            records = [Consumed.from_record(r) for tp in sorted(fetched) for r in fetched[tp]]
            if not records:
                continue
            try:
                await self._on_records(records)
            except Exception:
                log.exception("tail of %s: handling %d records raised", self.topic, len(records))
