"""Publishing to Kafka: one aiokafka producer per process, acknowledged by every in-sync replica.

aiokafka's producer straight, not a framework's ``publish``: a third of the CPU per message,
and these services send many (every outbox entry)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client import Counter

from servicekit import metrics

log = logging.getLogger(__name__)

Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]
"""publish(value, topic, key, headers)"""


def _expire(sent: asyncio.Future[Any], timeout: float) -> None:
    """No acknowledgement by the deadline (aiokafka skips a message future already done)."""
    if not sent.done():
        sent.set_exception(KafkaTimeoutError(f"no acknowledgement within {timeout} s"))


class Unavailable(Exception):
    """Kafka did not take the message in time (the broker is down or unreachable)."""


class Publisher:
    def __init__(self, bootstrap_servers: str, *, timeout_seconds: float = 30.0) -> None:
        """``timeout_seconds``: how long ``publish`` waits for the acknowledgement before it
        raises Unavailable (the message may still be sent once the broker is back: every
        message carries a stable id, and consumers apply it once)."""
        self._timeout = timeout_seconds
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            linger_ms=1,
            request_timeout_ms=max(500, int(timeout_seconds * 500)),
        )
        self._started = False
        self._published: dict[str, Counter] = {}  # the counter's child per topic

    async def start(self) -> None:
        await self._producer.start()
        self._started = True

    async def stop(self) -> None:
        if self._started:
            await self._producer.stop()
            self._started = False

    async def publish(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        """Returns once the broker has the message (acks=all); Unavailable when it does not
        have it within the timeout."""
        pairs = [(k, v.encode()) for k, v in headers.items()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            # aiokafka bounds the wait for metadata and buffer space (request_timeout_ms, half
            # the timeout); the acknowledgement is bounded by one timer on its future, at the
            # deadline (a timeout context or wait_for per message cost several times the send)
            sent = await self._producer.send(topic, value, key=key, headers=pairs)
            if not sent.done():
                timer = loop.call_at(deadline, _expire, sent, self._timeout)
                try:
                    await sent
                finally:
                    timer.cancel()
            else:
                sent.result()
        except KafkaError as exc:
            raise Unavailable(f"Kafka did not acknowledge a message to {topic}: {exc!r}") from exc
        published = self._published.get(topic)
        if published is None:
            published = self._published[topic] = metrics.MESSAGES_PUBLISHED.labels(topic)
        published.inc()

    async def reachable(self) -> bool:
        """A broker answers a metadata request (the readiness check; an open connection to a
        broker that no longer answers is not enough)."""
        return self._started and await brokers_answer(self._producer.client)


async def brokers_answer(client: Any) -> bool:
    """One of the brokers an aiokafka client knows answers a metadata request."""
    try:
        await client.fetch_all_metadata()
    except KafkaError:
        return False
    return True
