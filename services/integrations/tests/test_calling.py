"""How a call goes out: the type's client, its required parameters, transient errors retried
with the provider's Retry-After, a 401 once more after an OAuth refresh, a broken or disabled
connection refused, and the throttle's fairness across tenants."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from contracts.connections import Limits
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection
from integrations.throttle import FairGate, TenantAdmission, Throttle
from memory_harness import Harness, MemoryConnections, connection, message, requested


class Shop:
    """An in-memory client: answers getOrder, fails as told first."""

    type = "shopify"
    actions = {"getOrder": ("orderId",), "searchOrders": ()}
    default_limits = Limits(rate=1000, concurrency=4)

    def __init__(self, *failures: IntegrationError) -> None:
        self.failures = list(failures)
        self.calls: list[tuple[str, float]] = []

    async def call(
        self, connection: Connection, action: str, params: dict[str, Any], context: CallContext
    ) -> dict[str, Any]:
        self.calls.append((connection.secret("access_token"), time.monotonic()))
        if self.failures:
            raise self.failures.pop(0)
        return {"id": params["orderId"], "key": context.idempotency_key}

    async def check(self, connection: Connection, context: CallContext) -> dict[str, Any]:
        return {"shop": "acme"}

    async def aclose(self) -> None:
        return None


def provider(**kw: Any) -> Connection:
    from servicekit.sealing import Secret

    return connection("provider", credentials={"access_token": Secret("shpat_1")}, **kw)


async def test_a_provider_client_answers_with_the_idempotency_key() -> None:
    shop = Shop()
    harness = Harness(MemoryConnections(shopify=provider()), {"shopify": shop})
    await harness.run(message(requested()))
    (settled,) = harness.settled
    assert settled.result == {"id": "1042", "key": "exe_1:shop:1:1"}
    record = harness.calls.docs["exe_1:shop:1:1"]
    assert record["attempts"] == 1 and record["request"]["params"] == ["orderId"]
    assert record["request"]["connection_id"] == "con_1"


@pytest.mark.parametrize(
    ("action", "params", "says"),
    [("getOrder", {"other": 1}, "getOrder needs orderId"), ("nope", {}, "no action 'nope'")],
)
async def test_a_call_the_client_cannot_make_is_invalid_without_a_request(
    action: str, params: dict[str, Any], says: str
) -> None:
    shop = Shop()
    harness = Harness(MemoryConnections(shopify=provider()), {"shopify": shop})
    await harness.run(message(requested(action=action, **params)))
    (settled,) = harness.settled
    assert settled.error is not None and settled.error["type"] == "Invalid"
    assert says in settled.error["message"] and shop.calls == []


async def test_transient_errors_are_retried_and_retry_after_is_honoured() -> None:
    shop = Shop(
        IntegrationError("Unavailable", "HTTP 503", 503),
        IntegrationError("RateLimited", "slow down", 429, retry_after=0.5),
    )
    harness = Harness(MemoryConnections(shopify=provider()), {"shopify": shop})
    await harness.run(message(requested()))
    (settled,) = harness.settled
    assert settled.error is None and len(shop.calls) == 3
    assert shop.calls[2][1] - shop.calls[1][1] >= 0.5  # the provider's Retry-After
    assert harness.calls.docs["exe_1:shop:1:1"]["attempts"] == 3


async def test_retries_stop_within_the_budget_and_the_workflow_sees_the_error() -> None:
    shop = Shop(*[IntegrationError("RateLimited", "slow", 429, retry_after=30)] * 3)
    harness = Harness(MemoryConnections(shopify=provider()), {"shopify": shop}, budget=2)
    started = time.monotonic()
    await harness.run(message(requested()))
    (settled,) = harness.settled
    assert settled.error is not None and settled.error["type"] == "RateLimited"
    assert settled.error["retryable"] is True and settled.error["retry_after_seconds"] == 30
    assert len(shop.calls) == 1 and time.monotonic() - started < 10


async def test_a_rejection_is_not_retried() -> None:
    shop = Shop(IntegrationError("NotFound", "no order 1042", 404))
    harness = Harness(MemoryConnections(shopify=provider()), {"shopify": shop})
    await harness.run(message(requested()))
    assert harness.settled[0].error["type"] == "NotFound"  # type: ignore[index]
    assert len(shop.calls) == 1


async def test_a_401_is_tried_once_more_with_a_refreshed_token() -> None:
    from servicekit.sealing import Secret

    shop = Shop(IntegrationError("Unauthorized", "expired", 401))
    renewed = provider()
    renewed = Connection(**{**renewed.__dict__, "credentials": {"access_token": Secret("new")}})
    refreshed: list[str] = []

    async def refresh(conn: Connection) -> Connection:
        refreshed.append(conn.id)
        return renewed

    harness = Harness(MemoryConnections(shopify=provider()), {"shopify": shop}, refresh=refresh)
    await harness.run(message(requested()))
    assert harness.settled[0].error is None and refreshed == ["con_1"]
    assert [token for token, _ in shop.calls] == ["shpat_1", "new"]


@pytest.mark.parametrize(
    ("state", "error_type"),
    [
        ({"status": "broken", "broken_reason": "the grant was revoked"}, "ConnectionBroken"),
        ({"is_active": False}, "NotConnected"),
        ({"status": "pending"}, "NotConnected"),  # no credentials yet
    ],
)
async def test_a_broken_disabled_or_pending_connection_is_not_called(
    state: dict[str, Any], error_type: str
) -> None:
    shop = Shop()
    harness = Harness(MemoryConnections(shopify=provider(**state)), {"shopify": shop})
    await harness.run(message(requested()))
    (settled,) = harness.settled
    assert settled.error is not None and settled.error["type"] == error_type
    assert shop.calls == []
    _, error = await harness.service.check("ten_1", "con_1")
    assert error is not None and error["type"] == error_type


async def test_the_gate_serves_waiting_tenants_in_turn() -> None:
    gate, order = FairGate(1), []

    async def call(tenant: str, n: int) -> None:
        async with gate.turn(tenant):
            order.append(f"{tenant}{n}")
            await asyncio.sleep(0)

    async with gate.turn("x"):  # busy: everyone below waits
        tasks = [asyncio.create_task(call("a", n)) for n in range(3)]
        tasks += [asyncio.create_task(call("b", n)) for n in range(2)]
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["a0", "b0", "a1", "b1", "a2"]


async def test_a_cancelled_waiter_gives_its_turn_away() -> None:
    gate = FairGate(1)
    async with gate.turn("x"):
        waiter = asyncio.create_task(gate._acquire("a"))
        await asyncio.sleep(0)
        waiter.cancel()
    async with asyncio.timeout(1):
        async with gate.turn("b"):
            assert gate.waiting == 0


async def test_a_rate_limited_lane_does_not_hold_up_another_tenant() -> None:
    throttle = Throttle(slots=2)
    slow = Limits(rate=2, burst=1, concurrency=4)  # tenant a: 2 calls a second
    fast = Limits(rate=1000, concurrency=4)
    done: dict[str, float] = {}
    started = time.monotonic()

    async def call(conn: str, tenant: str, limits: Limits, name: str) -> None:
        async with throttle.slot(conn, tenant, limits):
            await asyncio.sleep(0.01)
        done[name] = time.monotonic() - started

    backlog = [asyncio.create_task(call("con_a", "a", slow, f"a{n}")) for n in range(6)]
    await asyncio.sleep(0.05)
    await call("con_b", "b", fast, "b")
    assert done["b"] < 0.5  # not behind a's 3 s of backlog
    await asyncio.gather(*backlog)
    assert done["a5"] >= 2.0  # a's own rate held


async def test_a_tenants_backlog_waits_before_any_io_and_another_tenant_goes_first() -> None:
    from integrations.service import IntegrationService
    from memory_harness import MemoryCalls

    release = asyncio.Event()

    class Held(Shop):
        async def call(self, connection, action, params, context):  # type: ignore[no-untyped-def]
            if params["orderId"] == "hold":
                await release.wait()
            return await super().call(connection, action, params, context)

    class AnyTenant(MemoryConnections):
        async def resolve(self, tenant_id, type_name, workflow_id, named):  # type: ignore[no-untyped-def]
            return await super().resolve("ten_1", type_name, workflow_id, named)

    calls, published = MemoryCalls(), []

    async def publish(value: bytes, topic: str, key: bytes, headers: Any = None) -> None:
        published.append(value)

    service = IntegrationService(
        calls,
        AnyTenant(shopify=provider()),
        {"shopify": Held()},
        None,  # type: ignore[arg-type]  (no http connection here)
        publish,
        Throttle(64),
        max_active_per_tenant=3,
    )

    def envelope(tenant: str, n: int, order: str):  # type: ignore[no-untyped-def]
        from contracts import Envelope

        event = requested(key=f"{tenant}:{n}", orderId=order).model_copy(
            update={"tenant_id": tenant}
        )
        return Envelope.wrap(event, source="/test", tenant_id=tenant)

    flood = [
        asyncio.create_task(service.on_integration_requested(envelope("ten_a", n, "hold")))
        for n in range(50)
    ]
    await asyncio.sleep(0.05)
    assert len(calls.docs) == 3  # A's other 47 wait without a record read or written
    async with asyncio.timeout(1):
        await service.on_integration_requested(envelope("ten_b", 0, "1042"))
    assert "ten_b:0" in calls.docs and len(published) == 1
    release.set()
    await asyncio.gather(*flood)
    assert len(published) == 51
    assert all(b'"error":null' in value for value in published)


async def test_admission_caps_each_tenant_and_forgets_a_tenant_with_nobody_left() -> None:
    admission, inside, most = TenantAdmission(2), {"a": 0, "b": 0}, {"a": 0, "b": 0}

    async def one(tenant: str) -> None:
        async with admission.turn(tenant):
            inside[tenant] += 1
            most[tenant] = max(most[tenant], inside[tenant])
            await asyncio.sleep(0.01)
            inside[tenant] -= 1

    await asyncio.gather(*(one("a") for _ in range(10)), one("b"))

    assert most == {"a": 2, "b": 1}
    assert admission.tenants == 0  # a semaphore per tenant ever seen would grow without bound
