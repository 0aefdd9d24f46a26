"""The integrations' consumer on the kit's in-memory broker, with in-memory call records and
connections (test_integration_service, test_calling)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from contracts import Envelope, topics
from contracts.connections import ProviderConfig
from contracts.events import DeadLettered, EffectSettled, IntegrationRequested
from integrations.adapters.http_provider import HttpProvider
from integrations.app import NAME
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.handlers.kafka import consume
from integrations.service import IntegrationService
from integrations.settings import Settings
from integrations.throttle import Throttle
from servicekit.testing import MemoryBroker, MemoryMongo, running


class MemoryCalls:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def start(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        if doc["_id"] in self.docs:
            return self.docs[doc["_id"]]
        self.docs[doc["_id"]] = dict(doc)
        return None

    async def finish(self, key: str, outcome: dict[str, Any]) -> None:
        result, error = outcome["result"], outcome["error"]
        self.docs[key].update(
            {k: v for k, v in outcome.items() if k not in ("result", "error")},
            status="failed" if error else "succeeded",
            result_json=None if result is None else json.dumps(result),
            error_json=None if error is None else json.dumps(error),
        )


class MemoryConnections:
    def __init__(self, **by_integration: Connection) -> None:
        self.by_integration = by_integration

    async def resolve(
        self, tenant_id: str, type_name: str, workflow_id: str | None, named: str | None
    ) -> Connection:
        found = self.by_integration.get(type_name) if tenant_id == "ten_1" else None
        if found is None:
            raise IntegrationError("NotConnected", f"integration {type_name!r} is not connected")
        return found

    async def get(self, tenant_id: str, connection_id: str, type_name: str | None = None):
        return next(c for c in self.by_integration.values() if c.id == connection_id)


def connection(
    mode: str = "echo", base_url: str | None = None, timeout: float = 10, **kw: Any
) -> Connection:
    return Connection(
        id="con_1",
        tenant_id="ten_1",
        type="shopify",
        name="Main shop",
        config=ProviderConfig(base_url=base_url, timeout_seconds=timeout),
        mode=mode,
        **kw,
    )


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

    def __init__(
        self,
        connections: MemoryConnections,
        clients: dict[str, Any] | None = None,
        budget: float = 5.0,
        refresh: Any = None,
    ) -> None:
        self.clients = clients or {}
        self.budget = budget
        self.refresh = refresh
        self.calls = MemoryCalls()
        self.connections = connections
        self.broker = MemoryBroker()
        self.mongo = MemoryMongo()

    async def run(self, *messages: tuple[bytes, dict[str, str]]) -> None:
        """Every message on the requests topic, in order, handled and committed."""
        kit = self.broker.kit(NAME, Settings(handling_attempts=1), self.mongo)
        async with httpx.AsyncClient() as http:
            self.service = service = IntegrationService(
                self.calls,
                self.connections,
                self.clients,
                HttpProvider(http, 64 * 1024),
                kit.publish,
                Throttle(8),
                retry_budget_seconds=self.budget,
                refresh=self.refresh,
            )
            consume(kit, service, 1000)
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
