"""Publisher: returns once the broker has the message; Unavailable when it does not have it in
time (the broker down), or refuses it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from servicekit import publisher
from servicekit.publisher import Publisher, Unavailable


class FakeProducer:
    """What Publisher uses of AIOKafkaProducer: ``send`` gives a future the broker resolves."""

    behaviour = "acknowledge"  # or "never" (no broker answers) or "refuse"

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes, bytes | None, list[tuple[str, bytes]]]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[None]:
        if self.behaviour == "refuse":
            raise KafkaConnectionError("no broker")
        acknowledged: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.behaviour == "acknowledge":
            self.sent.append((topic, value, key, headers))
            acknowledged.set_result(None)
        return acknowledged


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> type[FakeProducer]:
    class Producer(FakeProducer):
        pass

    monkeypatch.setattr(publisher, "AIOKafkaProducer", Producer)
    return Producer


async def started(timeout: float = 0.2) -> Publisher:
    pub = Publisher("unused:9092", timeout_seconds=timeout)
    await pub.start()
    return pub


async def test_publish_returns_once_the_broker_acknowledged(producer: type[FakeProducer]) -> None:
    pub = await started()
    await pub.publish(b"{}", "t", b"k", {"ce_type": "X"})
    assert pub._producer.sent == [("t", b"{}", b"k", [("ce_type", b"X")])]
    assert pub._producer.config["acks"] == "all"


async def test_publish_raises_unavailable_when_no_acknowledgement_comes_in_time(
    producer: type[FakeProducer],
) -> None:
    producer.behaviour = "never"
    pub = await started(timeout=0.2)
    began = time.perf_counter()
    with pytest.raises(Unavailable, match="t"):
        await pub.publish(b"{}", "t", None, {})
    assert time.perf_counter() - began < 1


async def test_publish_raises_unavailable_when_kafka_refuses(producer: type[FakeProducer]) -> None:
    producer.behaviour = "refuse"
    pub = await started()
    with pytest.raises(Unavailable):
        await pub.publish(b"{}", "t", None, {})


async def test_not_reachable_before_start(producer: type[FakeProducer]) -> None:
    assert not await Publisher("unused:9092").reachable()
