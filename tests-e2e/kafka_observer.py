"""Reads public topics with a plain aiokafka consumer, as another company system would."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from contracts.topics import ALL_TOPICS


@dataclass(frozen=True)
class Seen:
    topic: str
    key: str | None
    headers: dict[str, str]
    value: dict[str, Any]
    partition: int = -1
    offset: int = -1

    @property
    def type(self) -> str:
        return self.headers.get("ce_type", "")


class KafkaObserver:
    """Collects every message published to ``topics`` after ``start`` returned.

    ``alive`` (e.g. ``stack.assert_alive``) is called while waiting, so a service that died
    fails the wait at once with its log instead of a timeout."""

    def __init__(
        self, bootstrap: str, topics: list[str], *, alive: Callable[[], None] | None = None
    ) -> None:
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._topics = topics
        self._alive = alive
        self.seen: list[Seen] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        counts = {spec.name: spec.partitions for spec in ALL_TOPICS}
        partitions = [TopicPartition(t, p) for t in self._topics for p in range(counts[t])]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:  # resolve the end offsets now, before anything is published
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for record in self._consumer:
            try:
                value = json.loads(record.value) if record.value is not None else {}
            except ValueError:  # not JSON: kept visible, never fatal to the observer
                value = {"$undecodable": record.value.decode(errors="replace")}
            self.seen.append(
                Seen(
                    topic=record.topic,
                    key=record.key.decode(errors="replace") if record.key else None,
                    headers={k: v.decode(errors="replace") for k, v in record.headers},
                    value=value if isinstance(value, dict) else {"$value": value},
                    partition=record.partition,
                    offset=record.offset,
                )
            )

    async def wait_for(
        self, predicate: Callable[[Seen], bool], *, count: int = 1, timeout: float = 30
    ) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.seen if predicate(m)]
            if len(found) >= count:
                return found
            if self._task is not None and self._task.done():
                self._task.result()  # the consumer failed: say why
                raise AssertionError("the observer stopped reading")
            if self._alive is not None:
                self._alive()
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"saw {len([m for m in self.seen if predicate(m)])} of {count} expected messages "
            f"in {timeout}s; all seen: {[(m.topic, m.type) for m in self.seen][-30:]}"
        )

    async def steps(
        self, execution_id: str, *, count: int, timeout: float = 30
    ) -> tuple[list[dict[str, Any]], list[Seen]]:
        """The node steps of an execution, in run order, once ``count`` are seen (NodesStepped
        carries a command's runs; a redelivery may publish one twice: each seq counts once),
        and the messages that carried them."""
        deadline = time.monotonic() + timeout
        while True:
            messages = await self.wait_for(
                lambda m: m.type == "NodesStepped" and m.value.get("execution_id") == execution_id,
                timeout=max(0.1, deadline - time.monotonic()),
            )
            steps = {s["seq"]: s for m in messages for s in m.value["steps"]}
            if len(steps) >= count or time.monotonic() > deadline:
                return [steps[seq] for seq in sorted(steps)], messages
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self._consumer.stop()
