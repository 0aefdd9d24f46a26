"""Shopify through its GraphQL Admin API against the provider sandbox's Shopify: every action of
the integrations service's client, refunds and inventory changes made once per idempotency key,
Shopify's refusals typed (a wrong token, a missing order, userErrors, THROTTLED with the wait
the bucket implies), and a workflow that looks the customer's order up and refunds part of it,
through the whole stack."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from conftest import REPO, SANDBOX_URL, Stack, TenantApi
from connections import (
    call_context,
    client_fixture,
    connect,
    provider_connection,
    refusal,
    sandbox_made,
    sandbox_state,
)
from contracts.connections import ShopifyConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import Connection
from integrations.providers.shopify import ShopifyClient

pytestmark = pytest.mark.e2e


async def new_store(**spec: Any) -> dict[str, Any]:
    domain = f"shop-{secrets.token_hex(4)}.myshopify.com"
    return await sandbox_made("/sandbox/shopify/stores", {"domain": domain, **spec})


async def store_now(domain: str) -> dict[str, Any]:
    return await sandbox_state(f"/sandbox/shopify/stores/{domain}")


@pytest.fixture
async def store(stack: Stack) -> dict[str, Any]:
    return await new_store()


client = client_fixture(ShopifyClient)


def connection(store: dict[str, Any], token: str | None = None) -> Connection:
    config = ShopifyConfig(shop=store["domain"], base_url=SANDBOX_URL)
    return provider_connection("shopify", config, access_token=token or store["access_token"])


async def test_orders_customers_and_inventory(client: ShopifyClient, store: dict[str, Any]) -> None:
    shop = connection(store)
    first, second = store["orders"]
    order = await client.call(shop, "getOrder", {"orderId": str(first)}, call_context())
    assert order["name"] == "#1001" and order["displayFinancialStatus"] == "PAID"
    assert order["displayFulfillmentStatus"] == "UNFULFILLED"
    assert order["totalPriceSet"]["shopMoney"] == {"amount": "50.00", "currencyCode": "USD"}
    assert [line["sku"] for line in order["lineItems"]["nodes"]] == ["MUG-1", "TEE-M"]
    found = await client.call(shop, "searchOrders", {"email": "ana@example.com"}, call_context())
    assert [o["legacyResourceId"] for o in found["orders"]] == [str(second), str(first)]
    customer = await client.call(
        shop, "getCustomer", {"customerId": order["customer"]["id"]}, call_context()
    )
    assert customer["displayName"] == "Ana Lopez" and customer["numberOfOrders"] == "2"
    made = await client.call(
        shop,
        "createOrder",
        {"lineItems": [{"sku": "MUG-1", "quantity": 1}, {"title": "Gift wrap", "price": "3.5",
                                                          "quantity": 1}],
         "email": "bo@example.com", "tags": "phone, vip"},
        call_context(),
    )  # fmt: skip
    assert made["totalPriceSet"]["shopMoney"]["amount"] == "16.00" and made["tags"] == [
        "phone",
        "vip",
    ]
    noted = await client.call(
        shop, "updateOrder", {"orderId": made["id"], "note": "call first"}, call_context()
    )
    assert noted["note"] == "call first"
    cancelled = await client.call(shop, "cancelOrder", {"orderId": made["id"]}, call_context())
    assert cancelled["job"]["done"] is True
    for _ in range(2):  # a redelivery with the same key changes the stock once
        stock = await client.call(
            shop, "updateInventory", {"sku": "TEE-M", "delta": "-2"}, call_context("inv-1")
        )
    assert stock == {"sku": "TEE-M", "delta": -2, "available": 3}
    assert (await store_now(store["domain"]))["variants"]["TEE-M"] == 3
    checked = await client.check(shop, call_context())
    assert checked["myshopifyDomain"] == store["domain"]


async def test_a_refund_is_made_once_per_key(client: ShopifyClient, store: dict[str, Any]) -> None:
    shop = connection(store)
    order_id = str(store["orders"][0])
    for _ in range(3):
        refunded = await client.call(
            shop, "refundOrder", {"orderId": order_id, "amount": "12.50"}, call_context("refund-1")
        )
    assert refunded["refund"]["totalRefundedSet"]["shopMoney"]["amount"] == "12.50"
    assert refunded["order"]["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    rest = await client.call(shop, "refundOrder", {"orderId": order_id}, call_context("refund-2"))
    assert rest["refund"]["totalRefundedSet"]["shopMoney"]["amount"] == "37.50"
    refunds = [m for m in (await store_now(store["domain"]))["mutations"]
               if m["mutation"] == "refundCreate"]  # fmt: skip
    assert [m["amount"] for m in refunds] == ["12.50", "37.50"]
    with pytest.raises(IntegrationError) as nothing_left:
        await client.call(
            shop, "refundOrder", {"orderId": order_id, "amount": "1"}, call_context("r3")
        )
    assert nothing_left.value.error_type == "Invalid"
    assert "greater than net payment received" in str(nothing_left.value)


async def test_shopifys_refusals_are_typed(client: ShopifyClient, store: dict[str, Any]) -> None:
    async def refused(shop: Connection, action: str, **params: Any) -> IntegrationError:
        return await refusal(client, shop, action, params)

    shop = connection(store)
    kinds = {
        "token": await refused(connection(store, "shpat_wrong_token"), "getOrder", orderId=1),
        "no order": await refused(shop, "getOrder", orderId="gid://shopify/Order/7"),
        "bad id": await refused(shop, "getOrder", orderId="#1001"),
        "no sku": await refused(shop, "updateInventory", sku="NOPE", delta=1),
    }
    assert {name: e.error_type for name, e in kinds.items()} == {
        "token": "Unauthorized",
        "no order": "NotFound",
        "bad id": "Invalid",
        "no sku": "NotFound",
    }
    assert "shpat_wrong_token" not in str(kinds["token"])
    tiny = await new_store(restore_rate=10, maximum_available=80)
    small = connection(tiny)
    outcomes = []
    for _ in range(5):  # a getOrder asks about 70 points; the bucket holds 80
        try:
            await client.call(small, "getOrder", {"orderId": tiny["orders"][0]}, call_context())
            outcomes.append(None)
        except IntegrationError as exc:
            outcomes.append(exc)
    throttled = next(e for e in outcomes if e is not None)
    assert outcomes[0] is None and throttled.error_type == "RateLimited"
    assert throttled.retry_after is not None and 0.1 <= throttled.retry_after <= 8


def lookup_and_refund() -> dict[str, Any]:
    def shopify(node_id: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "integration", "label": "Shopify", "config": config}

    return {
        "name": "Order refund",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            shopify("find", action="searchOrders", email="{{customer.email}}", first=1,
                    outputVariable="found"),
            shopify("refund", action="refundOrder", orderId="{{workflow.found.orders[0].id}}",
                    amount="5.00", note="{{trigger.text}}", outputVariable="refund"),
            {"id": "r", "type": "action", "label": "Send Reply", "config": {"message":
                "Refunded {{workflow.refund.refund.totalRefundedSet.shopMoney.amount}}"}},
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "find"},
            {"id": "e2", "source": "find", "target": "refund"},
            {"id": "e3", "source": "refund", "target": "r"},
        ],
    }  # fmt: skip


async def test_a_workflow_refunds_the_customers_last_order(
    api: TenantApi, store: dict[str, Any]
) -> None:
    await connect(
        api.http, api.tenant.headers, "shopify", name="Shop",
        config={"shop": store["domain"], "base_url": SANDBOX_URL},
        credentials={"access_token": store["access_token"]},
    )  # fmt: skip
    await api.activate(lookup_and_refund())
    trigger_id = await api.message(
        "the mug broke", conversation_id="shop-1", customer={"email": "ana@example.com"}
    )
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    refund = done["variables"]["workflow"]["refund"]
    assert refund["refund"]["note"] == "the mug broke"
    assert refund["order"]["name"] == "#1002"  # the newest of Ana's orders
    refunds = [m for m in (await store_now(store["domain"]))["mutations"]
               if m["mutation"] == "refundCreate"]  # fmt: skip
    assert [m["amount"] for m in refunds] == ["5.00"]
    assert store["access_token"] not in str(done)


async def test_the_order_status_example_answers_from_the_shop(
    api: TenantApi, store: dict[str, Any]
) -> None:
    """The builder's order-status-bot, exactly as saved, on the sandbox's Shopify."""
    saved = REPO / "services/executor/tests/golden/order-status-bot/workflow.json"
    await connect(
        api.http, api.tenant.headers, "shopify", name="Shop",
        config={"shop": store["domain"], "base_url": SANDBOX_URL},
        credentials={"access_token": store["access_token"]},
    )  # fmt: skip
    await api.activate(json.loads(saved.read_text()))
    first = store["orders"][0]
    trigger_id = await api.message(
        "where is my order?", conversation_id="order-status-1", customer={"name": "Ana"},
        orderId=str(first),
    )  # fmt: skip
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    order = done["variables"]["workflow"]["shopifyOrder"]
    assert (order["name"], order["displayFulfillmentStatus"]) == ("#1001", "UNFULFILLED")
    assert order["legacyResourceId"] == str(first)
    [reply] = [n for n in done["timeline"] if n["node_id"] == "r1" and n["status"] == "completed"]
    assert "Hi Ana, order #1001 is UNFULFILLED." in json.dumps(reply), reply
