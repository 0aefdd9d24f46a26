"""Shopify's GraphQL Admin API in the sandbox over real HTTP: the access token, queries and
mutations of Shopify's schema, the cost in `extensions`, the leaky bucket's THROTTLED, and
@idempotent on refunds."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

URL = "/admin/api/2026-10/graphql.json"


@pytest.fixture
def shop(sandbox_server) -> tuple[httpx.Client, dict[str, Any]]:
    http = httpx.Client(base_url=sandbox_server.url)
    http.delete("/sandbox/shopify")
    made = http.post("/sandbox/shopify/stores", json={"domain": "acme.myshopify.com"})
    assert made.status_code == 201, made.text
    yield http, made.json()
    http.close()


def graphql(shop, query: str, token: str | None = None, **variables: Any) -> httpx.Response:
    http, store = shop
    headers = {"X-Shopify-Access-Token": token or store["access_token"]}
    return http.post(URL, json={"query": query, "variables": variables}, headers=headers)


def test_a_wrong_token_is_401_as_shopify_answers(shop) -> None:
    refused = graphql(shop, "{ shop { name } }", token="shpat_wrong")
    assert refused.status_code == 401 and refused.json()["errors"].startswith(
        "[API] Invalid API key"
    )


def test_an_order_is_read_with_its_cost_and_the_bucket_status(shop) -> None:
    order = shop[1]["orders"][0]
    answer = graphql(
        shop,
        """query($id: ID!) { order(id: $id) { name displayFinancialStatus
            totalPriceSet { shopMoney { amount currencyCode } }
            lineItems(first: 10) { nodes { sku quantity } } } }""",
        id=f"gid://shopify/Order/{order}",
    ).json()
    assert answer["data"]["order"] == {
        "name": "#1001",
        "displayFinancialStatus": "PAID",
        "totalPriceSet": {"shopMoney": {"amount": "50.00", "currencyCode": "USD"}},
        "lineItems": {"nodes": [{"sku": "MUG-1", "quantity": 2}, {"sku": "TEE-M", "quantity": 1}]},
    }
    cost = answer["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 + 2 + 2 + 10 * 1  # order, money bag, 10 lines
    assert cost["actualQueryCost"] < cost["requestedQueryCost"]
    assert cost["throttleStatus"]["restoreRate"] == 100.0
    missing = graphql(shop, '{ order(id: "gid://shopify/Order/1") { id } }').json()
    assert missing["data"] == {"order": None}
    bad = graphql(shop, "{ order(id: 1) { nope } }").json()
    assert bad["errors"] and "data" not in bad


def test_refunds_need_the_idempotent_directive_and_run_once_per_key(shop) -> None:
    http, store = shop
    order = f"gid://shopify/Order/{store['orders'][0]}"
    refund = """mutation($input: RefundInput!, $key: String!) {
        refundCreate(input: $input) @idempotent(key: $key) {
          refund { id totalRefundedSet { shopMoney { amount } } }
          userErrors { field message } } }"""
    body = {"orderId": order, "transactions": [
        {"orderId": order, "amount": "10.00", "gateway": "bogus", "kind": "REFUND"}]}  # fmt: skip
    first = graphql(shop, refund, input=body, key="k-1").json()["data"]["refundCreate"]
    again = graphql(shop, refund, input=body, key="k-1").json()["data"]["refundCreate"]
    assert first == again and first["userErrors"] == []
    assert first["refund"]["totalRefundedSet"]["shopMoney"]["amount"] == "10.00"
    assert len(http.get("/sandbox/shopify/stores/acme.myshopify.com").json()["mutations"]) == 1
    without = graphql(
        shop,
        "mutation($input: RefundInput!) { refundCreate(input: $input) { refund { id } } }",
        input=body,
    ).json()
    assert "@idempotent directive is required" in without["errors"][0]["message"]
    too_much = dict(body, transactions=[dict(body["transactions"][0], amount="99.00")])
    refused = graphql(shop, refund, input=too_much, key="k-2").json()["data"]["refundCreate"]
    assert "greater than net payment received" in refused["userErrors"][0]["message"]


def test_an_empty_bucket_answers_throttled_with_the_cost_refunding_the_unused(
    sandbox_server,
) -> None:
    with httpx.Client(base_url=sandbox_server.url) as http:
        http.delete("/sandbox/shopify")
        store = http.post(
            "/sandbox/shopify/stores",
            json={"domain": "tiny.myshopify.com", "restore_rate": 1, "maximum_available": 30},
        ).json()
        query = {"query": "{ orders(first: 10) { nodes { id } } }"}
        headers = {"X-Shopify-Access-Token": store["access_token"]}
        answers = [http.post(URL, json=query, headers=headers).json() for _ in range(8)]
    # each asks 12 and costs 4 (two orders): the bucket of 30 empties by 8 a call
    throttled = [a for a in answers if a.get("errors")]
    assert [bool(a.get("errors")) for a in answers][:4] == [False] * 4
    assert throttled, answers
    error = throttled[0]
    assert error["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert error["extensions"]["cost"]["actualQueryCost"] is None
    assert error["extensions"]["cost"]["requestedQueryCost"] == 12
