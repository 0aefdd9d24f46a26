"""/healthz and /readyz of a service assembled on the in-memory broker: ready only when MongoDB
and Kafka answer and every consumer has its partitions; a failing check is named, and one that
hangs fails in time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from contracts import Envelope
from contracts.events import Event
from servicekit.delivery import Consumed
from servicekit.health import CHECK_TIMEOUT
from servicekit.service import Kit, Service
from servicekit.settings import ServiceSettings
from servicekit.testing import MemoryBroker, MemoryMongo, running
from starlette.applications import Starlette

TOPIC = "health.requests"


async def nothing(envelope: Envelope[Event], record: Consumed) -> None:
    return None


class Harness:
    def __init__(self) -> None:
        self.broker = MemoryBroker(partitions=2)
        self.mongo = MemoryMongo()
        self.kit = self.broker.kit("svc", ServiceSettings(group_id="health-test"), self.mongo)
        self.kit.consume(TOPIC, on_record=nothing)

        async def assemble(kit: Kit) -> None:
            return None

        self.app = Starlette(routes=Service("svc", ServiceSettings(), assemble).routes())

    @asynccontextmanager
    async def client(self, *, started: bool = True) -> AsyncIterator[httpx.AsyncClient]:
        if started:
            self.app.state.kit = self.kit
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client


def assert_not_ready(response: httpx.Response, *failing: str) -> dict[str, Any]:
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    body: dict[str, Any] = response.json()
    assert body["status"] == 503
    assert [e["name"] for e in body["errors"]] == sorted(failing)
    assert {name for name, ok in body["checks"].items() if not ok} == set(failing)
    return body


async def test_ready_when_mongodb_kafka_and_every_consumer_answer() -> None:
    harness = Harness()
    async with running(harness.kit), harness.client() as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"mongodb": True, "kafka": True, f"consumer {TOPIC}": True},
    }
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}


async def test_not_ready_while_mongodb_does_not_answer() -> None:
    harness = Harness()
    async with running(harness.kit), harness.client() as client:
        harness.mongo.available = False
        assert_not_ready(await client.get("/readyz"), "mongodb")
        assert (await client.get("/healthz")).status_code == 200  # alive: nothing to restart


async def test_not_ready_while_kafka_does_not_answer() -> None:
    harness = Harness()
    async with running(harness.kit), harness.client() as client:
        harness.broker.available = False
        body = assert_not_ready(await client.get("/readyz"), "kafka")
    assert "kafka" in body["detail"]


async def test_not_ready_while_a_consumer_has_no_partitions_from_its_group() -> None:
    harness = Harness()
    async with running(harness.kit), harness.client() as client:
        member = harness.broker.member(TOPIC)
        await member.revoke()  # a rebalance has begun
        assert_not_ready(await client.get("/readyz"), f"consumer {TOPIC}")
        await member.assign({0, 1})
        assert (await client.get("/readyz")).status_code == 200


async def test_a_check_that_hangs_fails_within_its_timeout() -> None:
    harness = Harness()

    async def hangs() -> bool:
        await asyncio.Event().wait()
        return True

    harness.kit.checks["mongodb"] = hangs
    async with running(harness.kit), harness.client() as client:
        started = time.perf_counter()
        response = await client.get("/readyz")
        took = time.perf_counter() - started
    assert_not_ready(response, "mongodb")
    assert CHECK_TIMEOUT <= took < CHECK_TIMEOUT + 1


async def test_not_ready_and_not_alive_before_start_up() -> None:
    harness = Harness()
    async with harness.client(started=False) as client:
        assert_not_ready(await client.get("/readyz"), "started")
        assert (await client.get("/healthz")).status_code == 503


async def test_not_alive_once_a_background_task_ended() -> None:
    harness = Harness()

    async def ends() -> None:
        return None

    harness.kit.background(ends)
    async with running(harness.kit), harness.client() as client:
        await asyncio.sleep(0.01)
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
