"""Shopify, through the GraphQL Admin API (`POST https://{shop}/admin/api/{version}/graphql.json`,
`X-Shopify-Access-Token`): REST Admin is legacy since 2024-10, so every action is one GraphQL
document of Shopify's schema (https://shopify.dev/docs/api/admin-graphql), over httpx (Shopify's
Python SDK is synchronous).

Actions -> results (Shopify's objects, its field names): `getOrder` (orderId: a number or a
gid) -> the order with its line items; `searchOrders` (query in Shopify's search syntax, or
email; first, at most 50; after) -> `{orders, pageInfo}`; `createOrder` (lineItems: `{variantId
| sku, quantity}` or `{title, quantity, price}`; email, note, tags, customerId, currency) -> the
order; `updateOrder` (orderId; note, tags, email, phone) -> the order; `cancelOrder` (orderId;
reason CUSTOMER, refund true, restock true, notifyCustomer, staffNote) -> `{job}`;
`refundOrder` (orderId; amount, else what is left; note, notify) -> `{refund, order}`;
`getCustomer` (customerId) -> the customer; `updateInventory` (sku, delta) -> `{sku, delta,
available}`. refundCreate and inventoryAdjustQuantities carry the call's idempotency key in
Shopify's `@idempotent(key:)` directive (required from 2026-04): a redelivered refund is made
once.

Errors: HTTP 401 Unauthorized, 402/403/423 Forbidden (frozen, locked), 404 NotFound, 429 and
`THROTTLED` RateLimited (Retry-After from the bucket: what the query asked less what is
available, over the restore rate), 5xx Unavailable; `ACCESS_DENIED` (a scope missing)
Forbidden; an order or customer that is not there (null) NotFound; `userErrors` Invalid (or
NotFound when they say it does not exist)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from contracts.connections import Limits

from integrations.adapters.http_provider import reaching, retry_after
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
# The Standard plan restores 100 points a second (https://shopify.dev/docs/api/usage/limits); a
# getOrder asks about 70 (most refunded after): about ten calls a second, bursts from the bucket.
LIMITS = Limits(rate=10, per_seconds=1, burst=20, concurrency=8)
MAX_SEARCH = 50
MAX_MESSAGE = 500
MONEY = "{ shopMoney { amount currencyCode } }"
ORDER = f"""id legacyResourceId name email phone createdAt updatedAt cancelledAt cancelReason
  closed note tags displayFinancialStatus displayFulfillmentStatus totalPriceSet {MONEY}
  totalRefundedSet {MONEY} customer {{ id displayName email phone }}"""
LINES = f"lineItems(first: 20) {{ nodes {{ id title sku quantity originalUnitPriceSet {MONEY} }} }}"
CUSTOMER = """id legacyResourceId displayName firstName lastName email phone numberOfOrders
  amountSpent { amount currencyCode } tags note createdAt"""

GET_ORDER = f"query GetOrder($id: ID!) {{ order(id: $id) {{ {ORDER} {LINES} }} }}"
SEARCH_ORDERS = f"""query SearchOrders($first: Int!, $after: String, $query: String) {{
  orders(first: $first, after: $after, query: $query, reverse: true, sortKey: CREATED_AT) {{
    nodes {{ {ORDER} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
CREATE_ORDER = f"""mutation CreateOrder($order: OrderCreateOrderInput!) {{
  orderCreate(order: $order) {{ order {{ {ORDER} {LINES} }}
    userErrors {{ field message code }} }} }}"""
UPDATE_ORDER = f"""mutation UpdateOrder($input: OrderInput!) {{
  orderUpdate(input: $input) {{ order {{ {ORDER} }} userErrors {{ field message }} }} }}"""
CANCEL_ORDER = """mutation CancelOrder($orderId: ID!, $reason: OrderCancelReason!, $refund: Boolean,
  $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refund: $refund, restock: $restock,
    notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done } orderCancelUserErrors { field message code } } }"""
REFUNDABLE = f"""query Refundable($id: ID!) {{ order(id: $id) {{ id totalPriceSet {MONEY}
  totalRefundedSet {MONEY}
  transactions(first: 20) {{ id kind status gateway amountSet {MONEY} }} }} }}"""
REFUND = f"""mutation Refund($input: RefundInput!, $key: String!) {{
  refundCreate(input: $input) @idempotent(key: $key) {{
    refund {{ id legacyResourceId note createdAt totalRefundedSet {MONEY} }}
    order {{ id name displayFinancialStatus totalRefundedSet {MONEY} }}
    userErrors {{ field message }} }} }}"""
GET_CUSTOMER = f"query GetCustomer($id: ID!) {{ customer(id: $id) {{ {CUSTOMER} }} }}"
VARIANT = """query Variant($query: String!) { productVariants(first: 1, query: $query) { nodes {
  id sku inventoryItem { id inventoryLevels(first: 1) { nodes { location { id }
  quantities(names: ["available"]) { name quantity } } } } } } }"""
ADJUST = """mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { createdAt reason changes { name delta quantityAfterChange } }
    userErrors { field message } } }"""


def _gid(params: Mapping[str, Any], name: str, kind: str) -> str:
    value = params.get(name)
    text = (
        str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    )
    if text.isdigit():
        return f"gid://shopify/{kind}/{text}"
    if text.startswith(f"gid://shopify/{kind}/") and text.rsplit("/", 1)[-1].isdigit():
        return text
    raise IntegrationError(
        "Invalid", f"Shopify: {name} must be a {kind} id (a number or gid://shopify/{kind}/...)"
    )


def _given(params: Mapping[str, Any], *names: str) -> Document:
    return {name: params[name] for name in names if params.get(name) not in (None, "")}


def _tags(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list):
        return [str(t) for t in value]
    raise IntegrationError("Invalid", "Shopify: tags must be a list or a comma-separated text")


def _amount(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise IntegrationError("Invalid", f"Shopify: {value!r} is not an amount") from None
    if amount <= 0:
        raise IntegrationError("Invalid", "Shopify: an amount must be positive")
    return str(amount)


def _int(value: Any, name: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise IntegrationError("Invalid", f"Shopify: {name} must be a whole number") from None


def _user_errors(payload: Document | None, name: str) -> None:
    """Shopify's userErrors on a mutation's payload, as one typed error."""
    errors = (payload or {}).get("userErrors") or (payload or {}).get("orderCancelUserErrors")
    if not errors:
        return
    said = "; ".join(
        f"{'.'.join(e.get('field') or []) or name}: {e.get('message')}" for e in errors
    )[:MAX_MESSAGE]
    missing = any(
        e.get("code") == "NOT_FOUND" or "does not exist" in str(e.get("message")) for e in errors
    )
    raise IntegrationError("NotFound" if missing else "Invalid", f"Shopify {name}: {said}")


class ShopifyClient:
    type = "shopify"
    actions: Mapping[str, tuple[str, ...]] = {
        "getOrder": ("orderId",),
        "searchOrders": (),
        "createOrder": ("lineItems",),
        "updateOrder": ("orderId",),
        "cancelOrder": ("orderId",),
        "refundOrder": ("orderId",),
        "getCustomer": ("customerId",),
        "updateInventory": ("sku", "delta"),
    }
    default_limits = LIMITS

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        run = {
            "getOrder": self._get_order,
            "searchOrders": self._search_orders,
            "createOrder": self._create_order,
            "updateOrder": self._update_order,
            "cancelOrder": self._cancel_order,
            "refundOrder": self._refund_order,
            "getCustomer": self._get_customer,
            "updateInventory": self._update_inventory,
        }.get(action)
        if run is None:
            raise IntegrationError("Invalid", f"Shopify has no action {action!r}")
        return await run(connection, params, context)

    async def check(self, connection: Connection, context: CallContext) -> Document:
        data = await self._graphql(
            connection,
            context,
            "{ shop { name myshopifyDomain currencyCode plan { displayName } } }",
            {},
        )
        shop: Document = data["shop"]
        return shop

    # -- actions --------------------------------------------------------------------------------

    async def _get_order(self, c: Connection, params: Document, ctx: CallContext) -> Document:
        order_id = _gid(params, "orderId", "Order")
        data = await self._graphql(c, ctx, GET_ORDER, {"id": order_id})
        return self._found(data["order"], "order", order_id)

    async def _search_orders(self, c: Connection, params: Document, ctx: CallContext) -> Document:
        query = str(params.get("query") or "").strip()
        if params.get("email"):
            query = f"{query} email:{str(params['email']).strip()}".strip()
        first = _int(params.get("first") or 10, "first")
        if not 1 <= first <= MAX_SEARCH:
            raise IntegrationError("Invalid", f"Shopify: first must be 1 to {MAX_SEARCH}")
        variables = {"first": first, "query": query or None, "after": params.get("after") or None}
        data = await self._graphql(c, ctx, SEARCH_ORDERS, variables)
        return {"orders": data["orders"]["nodes"], "pageInfo": data["orders"]["pageInfo"]}

    async def _create_order(self, c: Connection, params: Document, ctx: CallContext) -> Document:
        items = params.get("lineItems")
        if not isinstance(items, list) or not items:
            raise IntegrationError("Invalid", "Shopify: lineItems must be a list of line items")
        currency = str(params.get("currency") or "USD")
        lines = []
        for item in items:
            if not isinstance(item, dict):
                raise IntegrationError("Invalid", "Shopify: each line item must be an object")
            line: Document = {"quantity": _int(item.get("quantity", 1), "quantity")}
            if item.get("variantId"):
                line["variantId"] = _gid(item, "variantId", "ProductVariant")
            elif item.get("sku"):
                variant = await self._variant(c, ctx, str(item["sku"]))
                line["variantId"] = variant["id"]
            else:
                line["title"] = str(item.get("title") or "Custom item")
                amount = {"amount": _amount(item.get("price")), "currencyCode": currency}
                line["priceSet"] = {"shopMoney": amount}
            lines.append(line)
        order: Document = {"lineItems": lines, **_given(params, "email", "phone", "note")}
        if params.get("tags"):
            order["tags"] = _tags(params["tags"])
        if params.get("customerId"):
            order["customerId"] = _gid(params, "customerId", "Customer")
        data = await self._graphql(c, ctx, CREATE_ORDER, {"order": order})
        _user_errors(data["orderCreate"], "orderCreate")
        return self._found(data["orderCreate"]["order"], "order", "new")

    async def _update_order(self, c: Connection, params: Document, ctx: CallContext) -> Document:
        changes: Document = {"id": _gid(params, "orderId", "Order")}
        changes |= _given(params, "note", "email", "phone")
        if "tags" in params:
            changes["tags"] = _tags(params["tags"])
        data = await self._graphql(c, ctx, UPDATE_ORDER, {"input": changes})
        _user_errors(data["orderUpdate"], "orderUpdate")
        return self._found(data["orderUpdate"]["order"], "order", changes["id"])

    async def _cancel_order(self, c: Connection, params: Document, ctx: CallContext) -> Document:
        variables = {
            "orderId": _gid(params, "orderId", "Order"),
            "reason": str(params.get("reason") or "CUSTOMER").upper(),
            "refund": bool(params.get("refund", True)),
            "restock": bool(params.get("restock", True)),
            "notifyCustomer": bool(params.get("notifyCustomer", False)),
            "staffNote": params.get("staffNote") or None,
        }
        data = await self._graphql(c, ctx, CANCEL_ORDER, variables)
        _user_errors(data["orderCancel"], "orderCancel")
        return {"job": data["orderCancel"]["job"], "orderId": variables["orderId"]}

    async def _refund_order(self, c: Connection, params: Document, ctx: CallContext) -> Document:
        order_id = _gid(params, "orderId", "Order")
        order = self._found(
            (await self._graphql(c, ctx, REFUNDABLE, {"id": order_id}))["order"], "order", order_id
        )
        paid = [
            t
            for t in order["transactions"]
            if t["kind"] in ("SALE", "CAPTURE") and t["status"] == "SUCCESS"
        ]
        if not paid:
            raise IntegrationError("Invalid", f"Shopify: order {order_id} has no payment to refund")
        parent = paid[-1]
        left = Decimal(order["totalPriceSet"]["shopMoney"]["amount"]) - Decimal(
            order["totalRefundedSet"]["shopMoney"]["amount"]
        )
        amount = _amount(params["amount"]) if params.get("amount") not in (None, "") else str(left)
        refund: Document = {
            "orderId": order_id,
            "notify": bool(params.get("notify", False)),
            "transactions": [
                {"orderId": order_id, "parentId": parent["id"], "amount": amount,
                 "gateway": parent["gateway"], "kind": "REFUND"}
            ],
        }  # fmt: skip
        if params.get("note"):
            refund["note"] = str(params["note"])
        data = await self._graphql(c, ctx, REFUND, {"input": refund, "key": ctx.idempotency_key})
        _user_errors(data["refundCreate"], "refundCreate")
        return {"refund": data["refundCreate"]["refund"], "order": data["refundCreate"]["order"]}

    async def _get_customer(self, c: Connection, params: Document, ctx: CallContext) -> Document:
        customer_id = _gid(params, "customerId", "Customer")
        data = await self._graphql(c, ctx, GET_CUSTOMER, {"id": customer_id})
        return self._found(data["customer"], "customer", customer_id)

    async def _update_inventory(
        self, c: Connection, params: Document, ctx: CallContext
    ) -> Document:
        sku = str(params["sku"]).strip()
        delta = _int(params["delta"], "delta")
        variant = await self._variant(c, ctx, sku)
        levels = variant["inventoryItem"]["inventoryLevels"]["nodes"]
        if not levels:
            raise IntegrationError("Invalid", f"Shopify: {sku} is stocked at no location")
        change = {
            "delta": delta,
            "inventoryItemId": variant["inventoryItem"]["id"],
            "locationId": levels[0]["location"]["id"],
        }
        adjust = {"reason": "correction", "name": "available", "changes": [change]}
        data = await self._graphql(c, ctx, ADJUST, {"input": adjust, "key": ctx.idempotency_key})
        payload = data["inventoryAdjustQuantities"]
        _user_errors(payload, "inventoryAdjustQuantities")
        [applied] = payload["inventoryAdjustmentGroup"]["changes"]
        return {"sku": sku, "delta": delta, "available": applied["quantityAfterChange"]}

    async def _variant(self, c: Connection, ctx: CallContext, sku: str) -> Document:
        quoted = sku.replace("\\", "\\\\").replace('"', '\\"')
        found = await self._graphql(c, ctx, VARIANT, {"query": f'sku:"{quoted}"'})
        nodes = found["productVariants"]["nodes"]
        if not nodes:
            raise IntegrationError("NotFound", f"Shopify: no variant with SKU {sku!r}")
        variant: Document = nodes[0]
        return variant

    @staticmethod
    def _found(value: Document | None, kind: str, ref: str) -> Document:
        if value is None:
            raise IntegrationError("NotFound", f"Shopify: no {kind} {ref}")
        return value

    # -- transport ------------------------------------------------------------------------------

    async def _graphql(
        self, connection: Connection, context: CallContext, query: str, variables: Document
    ) -> Document:
        config = connection.config
        shop = str(getattr(config, "shop", ""))
        version = str(getattr(config, "api_version", "2026-10"))
        url = f"{connection.base(f'https://{shop}')}/admin/api/{version}/graphql.json"
        seconds = context.seconds_for(connection)
        headers = {"X-Shopify-Access-Token": connection.secret("access_token")}
        with reaching("Shopify", seconds):
            response = await self._http.post(
                url, json={"query": query, "variables": variables}, headers=headers, timeout=seconds
            )
        status = response.status_code
        if status != 200:
            said = _said(response)
            if status in (402, 423):
                raise IntegrationError(
                    "Forbidden", f"Shopify answered HTTP {status}: {said}", status
                )
            raise IntegrationError.from_status(
                status, f"Shopify answered HTTP {status}: {said}", retry_after(response)
            )
        try:
            answer = response.json()
        except ValueError:
            raise IntegrationError("BadResponse", "Shopify answered something not JSON") from None
        errors = answer.get("errors") if isinstance(answer, dict) else None
        if errors:
            raise _graphql_error(errors, answer.get("extensions") or {})
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict):
            raise IntegrationError("BadResponse", "Shopify answered no data")
        return data

    async def aclose(self) -> None:
        return None


def _said(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:MAX_MESSAGE] or "(no message)"
    errors = body.get("errors") if isinstance(body, dict) else body
    return (errors if isinstance(errors, str) else str(errors))[:MAX_MESSAGE]


def _graphql_error(errors: Any, extensions: Document) -> IntegrationError:
    first: Document = (
        errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    )
    if not isinstance(errors, list):
        errors = [{"message": str(errors)}]
    code = str((first.get("extensions") or {}).get("code") or "")
    message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))[:MAX_MESSAGE]
    if code == "THROTTLED":
        cost = extensions.get("cost") or {}
        status = cost.get("throttleStatus") or {}
        wanted = float(cost.get("requestedQueryCost") or 0)
        available = float(status.get("currentlyAvailable") or 0)
        rate = float(status.get("restoreRate") or 0) or 50.0
        wait = max(0.1, (wanted - available) / rate)
        return IntegrationError("RateLimited", "Shopify: Throttled", retry_after=round(wait, 2))
    if code == "ACCESS_DENIED":
        return IntegrationError("Forbidden", f"Shopify: {message}")
    if code == "INTERNAL_SERVER_ERROR":
        return IntegrationError("Unavailable", f"Shopify: {message}")
    return IntegrationError("Invalid", f"Shopify: {message}" + (f" ({code})" if code else ""))
