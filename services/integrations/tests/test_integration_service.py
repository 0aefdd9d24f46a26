"""The integrations' own consumer on the kit's in-memory broker: in-memory call records and
connections, the real http mode against a server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest
from contracts import Envelope, topics
from contracts.events import DeadLettered, EffectSettled, IntegrationRequested
from integrations.adapters.http_provider import HttpProvider
from integrations.adapters.store import ConnectionRepository, recorded_outcome
from integrations.app import NAME
from integrations.domain.operations import Connection
from integrations.handlers.kafka import consume
from integrations.service import IntegrationService
from integrations.settings import Settings
from servicekit.testing import MemoryBroker, MemoryMongo, running


class MemoryCalls:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def start(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        if doc["_id"] in self.docs:
            return self.docs[doc["_id"]]
        self.docs[doc["_id"]] = dict(doc)
        return None

    async def finish(self, key: str, status: str, result: Any, error: Any, at: Any) -> None:
        self.docs[key].update(
            status=status,
            result_json=None if result is None else json.dumps(result),
            error_json=None if error is None else json.dumps(error),
        )


class MemoryConnections:
    def __init__(self, **by_integration: Connection) -> None:
        self.by_integration = by_integration

    async def get(self, tenant_id: str, integration: str) -> Connection | None:
        return self.by_integration.get(integration) if tenant_id == "ten_1" else None


def requested(action: str = "getOrder", key: str = "exe_1:shop:1:1", **params: Any):
    return IntegrationRequested(
        idempotency_key=key,
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id="shop:1:1",
        node_id="shop",
        kind="integration.shopify",
        request={
            "integration": "shopify",
            "action": action,
            "params": params or {"orderId": "1042"},
            "outputVariable": "order",
        },
    )


class Harness:
    """The integrations' consumer on the kit's in-memory broker."""

    def __init__(self, connections: MemoryConnections) -> None:
        self.calls = MemoryCalls()
        self.connections = connections
        self.broker = MemoryBroker()
        self.mongo = MemoryMongo()

    async def run(self, *messages: tuple[bytes, dict[str, str]]) -> None:
        """Every message on the requests topic, in order, handled and committed."""
        kit = self.broker.kit(NAME, Settings(handling_attempts=1), self.mongo)
        async with httpx.AsyncClient() as http:
            service = IntegrationService(
                self.calls, self.connections, HttpProvider(http, 64 * 1024), kit.publish
            )
            consume(kit, service)
            async with running(kit):
                for value, headers in messages:
                    self.broker.append(
                        topics.INTEGRATION_REQUESTS, value, key=b"exe_1", headers=headers
                    )
                await self.broker.idle()

    @property
    def settled(self) -> list[EffectSettled]:
        return self.broker.events(topics.EXECUTION_COMMANDS)  # type: ignore[return-value]

    @property
    def dead(self) -> list[DeadLettered]:
        """As the dead-letter repository stored them."""
        return [
            DeadLettered.model_validate({k: v for k, v in doc.items() if k != "_id"})
            for doc in self.mongo.dead_letters()
        ]

    @property
    def dead_on_topic(self) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in self.broker.records(topics.DEAD_LETTERS)]


def message(event: IntegrationRequested) -> tuple[bytes, dict[str, str]]:
    envelope = Envelope.wrap(event, source="/test", tenant_id=event.tenant_id)
    return envelope.body(), envelope.headers()


async def test_http_connection_answers_with_the_systems_json_once_per_key(fake_system) -> None:
    harness = Harness(
        MemoryConnections(shopify=Connection(mode="http", base_url=fake_system.base_url))
    )
    same = message(requested())
    await harness.run(same, same)  # a redelivery
    assert len(fake_system.received) == 1, "the system is called once per idempotency key"
    assert [s.result for s in harness.settled] == [
        {"name": "#1042", "params": {"orderId": "1042"}}
    ] * 2
    assert {s.command_id for s in harness.settled} == {"settle:exe_1:shop:1:1"}
    record = harness.calls.docs["exe_1:shop:1:1"]
    assert record["status"] == "succeeded"
    assert recorded_outcome(record)[0] == harness.settled[0].result


async def test_echo_connection_answers_params_and_action() -> None:
    harness = Harness(MemoryConnections(shopify=Connection(mode="echo")))
    await harness.run(message(requested(orderId="7")))
    assert harness.settled[0].result == {"echo": {"orderId": "7"}, "action": "getOrder"}
    assert harness.settled[0].error is None


async def test_no_connection_settles_with_not_connected() -> None:
    harness = Harness(MemoryConnections())
    await harness.run(message(requested()))
    [settled] = harness.settled
    assert settled.result is None
    assert settled.error is not None and settled.error["type"] == "NotConnected"


@pytest.mark.parametrize(
    ("action", "error_type"),
    [("missing", "NotFound"), ("broken", "Unavailable")],
)
async def test_http_errors_settle_with_a_typed_error(fake_system, action, error_type) -> None:
    harness = Harness(
        MemoryConnections(shopify=Connection(mode="http", base_url=fake_system.base_url))
    )
    await harness.run(message(requested(action=action)))
    [settled] = harness.settled
    assert settled.error is not None and settled.error["type"] == error_type
    assert harness.calls.docs["exe_1:shop:1:1"]["status"] == "failed"


async def test_a_garbage_message_is_dead_lettered_and_stored_and_the_next_one_flows() -> None:
    harness = Harness(MemoryConnections(shopify=Connection(mode="echo")))
    garbage = (b"not json", {"ce_type": "IntegrationRequested", "tenant_id": "ten_1"})
    await harness.run(garbage, message(requested()))
    [dead] = harness.dead
    assert dead.consumer == "integrations"
    assert dead.original_topic == topics.INTEGRATION_REQUESTS
    assert dead.original_headers["tenant_id"] == "ten_1"
    assert harness.dead_on_topic[0]["dead_letter_id"] == dead.dead_letter_id
    assert len(harness.settled) == 1


async def test_nothing_of_the_request_or_the_url_reaches_the_logs(fake_system, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    harness = Harness(
        MemoryConnections(shopify=Connection(mode="http", base_url=fake_system.base_url))
    )
    await harness.run(
        message(requested(action="missing", token="sk_live_TOPSECRET")),
        message(requested(key="exe_1:shop:1:2", token="sk_live_TOPSECRET")),
    )
    assert len(harness.settled) == 2
    assert "TOPSECRET" not in caplog.text
    assert fake_system.base_url.split("//")[1] not in caplog.text


class FakeDb:
    def __init__(self) -> None:
        self.reads = 0
        self.doc: dict[str, Any] | None = {"_id": "ten_1:shopify", "mode": "echo"}
        self.integrations = self

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        self.reads += 1
        return self.doc


async def test_connections_are_cached_briefly() -> None:
    db, now = FakeDb(), [0.0]
    connections = ConnectionRepository(db, ttl_seconds=5, clock=lambda: now[0])  # type: ignore[arg-type]
    assert (await connections.get("ten_1", "shopify")) == Connection(mode="echo")
    db.doc = None  # disconnected through the gateway
    now[0] = 4.9
    assert await connections.get("ten_1", "shopify") is not None
    now[0] = 5.1
    assert await connections.get("ten_1", "shopify") is None
    assert db.reads == 2
