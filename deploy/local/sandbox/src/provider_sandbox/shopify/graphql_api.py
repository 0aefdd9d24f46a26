"""Shopify's GraphQL Admin API: `POST /admin/api/{version}/graphql.json`, as Shopify answers it.

- Auth: the `X-Shopify-Access-Token` header names the store (the sandbox serves every store on
  one host); none or an unknown one is HTTP 401 `{"errors": "[API] Invalid API key or access
  token (unrecognized login or wrong password)"}`.
- The document is executed by graphql-core against schema.graphql (Shopify's names and types);
  a syntax or validation error is HTTP 200 with `errors`, as Shopify answers.
- Cost (https://shopify.dev/docs/api/usage/limits): requested before execution (an object 1, a
  scalar 0, a connection 2 + `first` x its selection, a mutation 10), charged to the store's
  leaky bucket, the difference to the actual cost refunded after; `extensions.cost` on every
  answer. Not enough in the bucket: HTTP 200 `errors: [{message: "Throttled", extensions:
  {code: "THROTTLED"}}]` and `actualQueryCost: null`; over 1000 requested: MAX_COST_EXCEEDED.
- `@idempotent(key:)` on refundCreate and inventoryAdjustQuantities: the same key answers the
  first result again without doing it twice; from version 2026-04 they refuse to run without it.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    build_schema,
    execute,
    get_named_type,
    is_list_type,
    is_object_type,
    parse,
    validate,
)
from graphql.execution.values import get_directive_values
from graphql.type import GraphQLResolveInfo
from pydantic import BaseModel, Field

from .store import (
    MAXIMUM_AVAILABLE,
    RESTORE_RATE,
    ShopifyState,
    Store,
    gid,
    money,
    now,
    number_of,
)

Info = GraphQLResolveInfo[dict[str, Any]]
SCHEMA_FILE = Path(__file__).with_name("schema.graphql")
MAX_QUERY_COST = 1000
MAX_PAGE = 250
IDEMPOTENT_MUTATIONS = ("refundCreate", "inventoryAdjustQuantities")
LOCATION = gid("Location", 1)
UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"


# -- views: the store's records as GraphQL objects ----------------------------------------------


def _page(items: list[Any], first: int | None, after: str | None, kind: str) -> dict[str, Any]:
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    if not 0 <= first <= MAX_PAGE:
        raise GraphQLError(f"The value of first must be between 0 and {MAX_PAGE}")
    start = 0
    if after:
        cursors = [str(i["id"]) for i in items]
        start = cursors.index(after) + 1 if after in cursors else len(items)
    chosen = items[start : start + first]
    return {
        "edges": [{"cursor": str(i["id"]), "node": i} for i in chosen],
        "nodes": chosen,
        "pageInfo": {
            "hasNextPage": start + first < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": str(chosen[0]["id"]) if chosen else None,
            "endCursor": str(chosen[-1]["id"]) if chosen else None,
        },
    }


def customer_view(store: Store, customer: dict[str, Any]) -> dict[str, Any]:
    orders = [o for o in store.orders.values() if o["customer"] == customer["number"]]
    spent = sum((o["total"] - o["refunded"] for o in orders), Decimal(0))
    return {
        "id": gid("Customer", customer["number"]),
        "legacyResourceId": str(customer["number"]),
        "displayName": f"{customer['firstName']} {customer['lastName']}".strip(),
        "numberOfOrders": str(len(orders)),
        "amountSpent": money(spent, store.currency)["shopMoney"],
        **{k: customer[k] for k in ("firstName", "lastName", "email", "phone", "tags", "note")},
        "createdAt": customer["createdAt"],
    }


def variant_view(store: Store, variant: dict[str, Any]) -> dict[str, Any]:
    item = {
        "id": gid("InventoryItem", variant["item"]),
        "sku": variant["sku"],
        "tracked": True,
        "inventoryLevels": lambda info, first=None: _page(
            [
                {
                    "id": f"gid://shopify/InventoryLevel/{variant['item']}?inventory_item_id=1",
                    "location": {"id": LOCATION, "name": "Shop location"},
                    "quantities": lambda info, names: [
                        {"name": n, "quantity": variant["available"]} for n in names
                    ],
                }
            ],
            first,
            None,
            "InventoryLevel",
        ),
    }
    return {
        "id": gid("ProductVariant", variant["number"]),
        "sku": variant["sku"],
        "title": variant["title"],
        "price": variant["price"],
        "inventoryQuantity": variant["available"],
        "inventoryItem": item,
    }


def _transaction_view(store: Store, transaction: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": gid("OrderTransaction", transaction["number"]),
        "kind": transaction["kind"],
        "status": transaction["status"],
        "gateway": transaction["gateway"],
        "amountSet": money(transaction["amount"], store.currency),
        "createdAt": transaction["createdAt"],
        "parentTransaction": None,
    }


def _refund_view(store: Store, refund: dict[str, Any]) -> dict[str, Any]:
    transactions = [_transaction_view(store, t) for t in refund["transactions"]]
    return {
        "id": gid("Refund", refund["number"]),
        "legacyResourceId": str(refund["number"]),
        "note": refund["note"],
        "createdAt": refund["createdAt"],
        "totalRefundedSet": money(refund["amount"], store.currency),
        "transactions": lambda info, first=None: _page(transactions, first, None, "Transaction"),
    }


def order_view(store: Store, order: dict[str, Any]) -> dict[str, Any]:
    customer = store.customers.get(order["customer"]) if order["customer"] else None
    lines = [
        {
            "id": gid("LineItem", line["number"]),
            "title": line["title"],
            "sku": line["sku"],
            "quantity": line["quantity"],
            "originalUnitPriceSet": money(line["price"], store.currency),
            "variant": (
                variant_view(store, store.variants[line["variant"]])
                if line["variant"] in store.variants
                else None
            ),
        }
        for line in order["lines"]
    ]
    transactions = [_transaction_view(store, t) for t in order["transactions"]]
    refunds = [_refund_view(store, r) for r in order["refunds"]]
    return {
        "id": gid("Order", order["number"]),
        "legacyResourceId": str(order["number"]),
        **{
            k: order[k]
            for k in ("name", "email", "phone", "createdAt", "updatedAt", "cancelledAt", "note")
        },
        "cancelReason": order["cancelReason"],
        "closed": order["closed"],
        "tags": order["tags"],
        "displayFinancialStatus": store.financial_status(order),
        "displayFulfillmentStatus": order["fulfillment"],
        "totalPriceSet": money(order["total"], store.currency),
        "totalRefundedSet": money(order["refunded"], store.currency),
        "currentTotalPriceSet": money(order["total"] - order["refunded"], store.currency),
        "customer": None if customer is None else customer_view(store, customer),
        "lineItems": lambda info, first=None, after=None: _page(lines, first, after, "LineItem"),
        "transactions": lambda info, first=None: transactions[: first or None],
        "refunds": lambda info, first=None: refunds[: first or None],
    }


def _matches(order: dict[str, Any], customer: dict[str, Any] | None, query: str | None) -> bool:
    """Shopify's search syntax, a few of its order fields: `email:`, `name:`, `status:`,
    `financial_status:`, `tag:`, a bare word in the name or email; terms AND-ed."""
    for term in (query or "").split():
        key, _, value = term.partition(":")
        if not value:
            key, value = "", key
        value = value.strip("'\"").lower()
        if key == "email" and (order["email"] or "").lower() != value:
            return False
        if key == "name" and order["name"].lower().lstrip("#") != value.lstrip("#"):
            return False
        state = "cancelled" if order["cancelledAt"] else "open"
        if key == "status" and value not in (state, "any"):
            return False
        if key == "tag" and value not in [t.lower() for t in order["tags"]]:
            return False
        if key == "" and value not in f"{order['name']} {order['email']}".lower():
            return False
    return True


# -- resolvers ------------------------------------------------------------------------------------


def _store(info: Info) -> Store:
    store: Store = info.context["store"]
    return store


def _order_of(store: Store, value: Any) -> dict[str, Any] | None:
    number = number_of(value, "Order")
    return None if number is None else store.orders.get(number)


def _money(value: Any, field: list[str]) -> tuple[Decimal | None, dict[str, Any] | None]:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None, {"field": field, "message": "Amount is invalid"}
    if amount <= 0:
        return None, {"field": field, "message": "Amount must be greater than 0"}
    return amount, None


def resolve_shop(_: Any, info: Info) -> dict[str, Any]:
    store = _store(info)
    return {
        "id": gid("Shop", abs(hash(store.domain)) % 10**8),
        "name": store.name,
        "myshopifyDomain": store.domain,
        "email": f"owner@{store.domain}",
        "currencyCode": store.currency,
        "plan": {"displayName": "Basic", "shopifyPlus": False},
    }


def resolve_order(_: Any, info: Info, id: str) -> dict[str, Any] | None:
    store = _store(info)
    order = _order_of(store, id)
    return None if order is None else order_view(store, order)


def resolve_orders(
    _: Any,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    query: str | None = None,
    reverse: bool = False,
    sortKey: str = "ID",
) -> dict[str, Any]:
    store = _store(info)
    orders = [
        o for o in store.orders.values() if _matches(o, store.customers.get(o["customer"]), query)
    ]
    key = "total" if sortKey == "TOTAL_PRICE" else "number"
    orders.sort(key=lambda o: o[key], reverse=reverse)
    return _page([order_view(store, o) for o in orders], first, after, "Order")


def resolve_customer(_: Any, info: Info, id: str) -> dict[str, Any] | None:
    store = _store(info)
    number = number_of(id, "Customer")
    customer = store.customers.get(number) if number is not None else None
    return None if customer is None else customer_view(store, customer)


def resolve_variants(
    _: Any,
    info: Info,
    first: int | None = None,
    after: str | None = None,
    query: str | None = None,
) -> dict[str, Any]:
    store = _store(info)
    wanted = None
    for term in (query or "").split():
        key, _, value = term.partition(":")
        if key == "sku":
            wanted = value.strip("'\"")
    variants = [v for v in store.variants.values() if wanted is None or v["sku"] == wanted]
    return _page([variant_view(store, v) for v in variants], first, after, "ProductVariant")


def resolve_order_create(
    _: Any, info: Info, order: dict[str, Any], options: Any = None
) -> dict[str, Any]:
    store = _store(info)
    lines = []
    for index, line in enumerate(order.get("lineItems") or []):
        variant = store.variants.get(number_of(line.get("variantId"), "ProductVariant") or 0)
        if line.get("variantId") and variant is None:
            field = ["order", "lineItems", str(index), "variantId"]
            return {"order": None, "userErrors": [{"field": field, "message": "Variant not found",
                                                    "code": "NOT_FOUND"}]}  # fmt: skip
        price = (
            variant["price"]
            if variant
            else (line.get("priceSet") or {}).get("shopMoney", {}).get("amount")
        )
        if price is None:
            field = ["order", "lineItems", str(index), "priceSet"]
            return {"order": None, "userErrors": [{"field": field, "code": "INVALID",
                    "message": "A custom line item needs a price"}]}  # fmt: skip
        title = line.get("title") or (variant["title"] if variant else "Custom item")
        lines.append((variant, title, int(line["quantity"]), str(price)))
    if not lines:
        return {"order": None, "userErrors": [{"field": ["order", "lineItems"], "code": "INVALID",
                "message": "Line items must have at least one line item"}]}  # fmt: skip
    customer = store.customers.get(number_of(order.get("customerId"), "Customer") or 0)
    made = store.add_order(
        customer,
        lines,
        email=order.get("email"),
        note=order.get("note"),
        tags=order.get("tags"),
        paid=(order.get("financialStatus") or "PAID").upper() == "PAID",
    )
    store.mutations.append({"mutation": "orderCreate", "order": made["number"]})
    return {"order": order_view(store, made), "userErrors": []}


def resolve_order_update(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    store = _store(info)
    order = _order_of(store, input["id"])
    if order is None:
        return {"order": None, "userErrors": [{"field": ["id"], "message": "Order does not exist"}]}
    for key in ("email", "note", "tags", "phone"):
        if key in input:
            order[key] = input[key]
    order["updatedAt"] = now()
    store.mutations.append({"mutation": "orderUpdate", "order": order["number"]})
    return {"order": order_view(store, order), "userErrors": []}


def resolve_order_cancel(
    _: Any,
    info: Info,
    orderId: str,
    reason: str,
    restock: bool,
    refund: bool | None = None,
    notifyCustomer: bool | None = None,
    staffNote: str | None = None,
) -> dict[str, Any]:
    store = _store(info)
    order = _order_of(store, orderId)

    def refused(message: str, code: str) -> dict[str, Any]:
        error = {"field": ["orderId"], "message": message, "code": code}
        return {"job": None, "orderCancelUserErrors": [error], "userErrors": [error]}

    if order is None:
        return refused("Order does not exist", "NOT_FOUND")
    if order["cancelledAt"]:
        return refused("Cannot cancel an order that has already been cancelled", "INVALID")
    order |= {"cancelledAt": now(), "cancelReason": reason, "closed": True, "updatedAt": now()}
    if refund and order["total"] > order["refunded"]:
        _refund(store, order, order["total"] - order["refunded"], "Order cancelled")
    if restock:
        for line in order["lines"]:
            if line["variant"] in store.variants:
                store.variants[line["variant"]]["available"] += line["quantity"]
    store.mutations.append({"mutation": "orderCancel", "order": order["number"]})
    return {
        "job": {"id": gid("Job", store.next_id()), "done": True},
        "orderCancelUserErrors": [],
        "userErrors": [],
    }


def _refund(
    store: Store, order: dict[str, Any], amount: Decimal, note: str | None
) -> dict[str, Any]:
    transaction = {
        "number": store.next_id(),
        "kind": "REFUND",
        "status": "SUCCESS",
        "gateway": "bogus",
        "amount": amount,
        "createdAt": now(),
        "parent": None,
    }
    refund = {
        "number": store.next_id(),
        "note": note,
        "createdAt": now(),
        "amount": amount,
        "transactions": [transaction],
    }
    order["transactions"].append(transaction)
    order["refunds"].append(refund)
    order["refunded"] += amount
    return refund


def resolve_refund_create(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    store = _store(info)
    order = _order_of(store, input["orderId"])
    if order is None:
        missing = {"field": ["orderId"], "message": "Order does not exist"}
        return {"order": None, "refund": None, "userErrors": [missing]}
    total = Decimal(0)
    for index, transaction in enumerate(input.get("transactions") or []):
        amount, error = _money(transaction.get("amount"), ["transactions", str(index), "amount"])
        if error:
            return {"order": None, "refund": None, "userErrors": [error]}
        total += amount or 0
    refundable = order["total"] - order["refunded"]
    if total <= 0:
        error = {"field": ["transactions"], "message": "Refund must have a transaction amount"}
        return {"order": None, "refund": None, "userErrors": [error]}
    if total > refundable:
        message = f"Refund amount ${total} is greater than net payment received ${refundable}"
        error = {"field": ["transactions", "0", "amount"], "message": message}
        return {"order": None, "refund": None, "userErrors": [error]}
    refund = _refund(store, order, total, input.get("note"))
    store.mutations.append(
        {"mutation": "refundCreate", "order": order["number"], "amount": str(total)}
    )
    return {
        "order": order_view(store, order),
        "refund": _refund_view(store, refund),
        "userErrors": [],
    }


def resolve_inventory_adjust(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    store = _store(info)
    if input["name"] not in ("available", "on_hand"):
        error = {
            "field": ["input", "name"],
            "message": "The quantity name must be available or on_hand",
        }
        return {"inventoryAdjustmentGroup": None, "userErrors": [error]}
    by_item = {v["item"]: v for v in store.variants.values()}
    changes = []
    for index, change in enumerate(input["changes"]):
        variant = by_item.get(number_of(change["inventoryItemId"], "InventoryItem") or 0)
        if variant is None or change["locationId"] != LOCATION:
            field = [
                "input",
                "changes",
                str(index),
                "inventoryItemId" if variant is None else "locationId",
            ]
            error = {"field": field, "message": "The specified inventory item could not be found."}
            return {"inventoryAdjustmentGroup": None, "userErrors": [error]}
        expected = change.get("changeFromQuantity")
        if expected is not None and expected != variant["available"]:
            field = ["input", "changes", str(index), "changeFromQuantity"]
            error = {"field": field, "message": "The quantity has changed since it was read."}
            return {"inventoryAdjustmentGroup": None, "userErrors": [error]}
        changes.append((variant, int(change["delta"])))
    out = []
    for variant, delta in changes:
        variant["available"] += delta
        item = {"id": gid("InventoryItem", variant["item"]), "sku": variant["sku"], "tracked": True}
        out.append(
            {
                "name": input["name"],
                "delta": delta,
                "quantityAfterChange": variant["available"],
                "item": {**item, "inventoryLevels": None},
                "location": {"id": LOCATION, "name": "Shop location"},
            }
        )
    store.mutations.append(
        {"mutation": "inventoryAdjustQuantities", "changes": [[v["sku"], d] for v, d in changes]}
    )
    group = {"createdAt": now(), "reason": input["reason"],
             "referenceDocumentUri": input.get("referenceDocumentUri"), "changes": out}  # fmt: skip
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


def _schema() -> GraphQLSchema:
    schema = build_schema(SCHEMA_FILE.read_text())
    query, mutation = schema.query_type, schema.mutation_type
    assert query is not None and mutation is not None
    for name, resolver in {
        "shop": resolve_shop,
        "order": resolve_order,
        "orders": resolve_orders,
        "customer": resolve_customer,
        "productVariants": resolve_variants,
    }.items():
        query.fields[name].resolve = resolver
    for name, resolver in {
        "orderCreate": resolve_order_create,
        "orderUpdate": resolve_order_update,
        "orderCancel": resolve_order_cancel,
        "refundCreate": resolve_refund_create,
        "inventoryAdjustQuantities": resolve_inventory_adjust,
    }.items():
        mutation.fields[name].resolve = _idempotent(name, resolver)
    return schema


def _idempotent(name: str, resolver: Any) -> Any:
    """Shopify's @idempotent(key:): a mutation run once per key, its answer kept."""

    def resolve(root: Any, info: Info, **args: Any) -> Any:
        directive = info.schema.get_directive("idempotent")
        assert directive is not None
        found = get_directive_values(directive, info.field_nodes[0], info.variable_values)
        key = found["key"] if found else None
        if key is None:
            if name in IDEMPOTENT_MUTATIONS and info.context["version"] >= "2026-04":
                raise GraphQLError(
                    f"The @idempotent directive is required for {name}",
                    extensions={"code": "BAD_REQUEST"},
                )
            return resolver(root, info, **args)
        store = _store(info)
        held = store.idempotent.get(f"{name}:{key}")
        if held is None:
            held = store.idempotent[f"{name}:{key}"] = resolver(root, info, **args)
        return held

    return resolve


SCHEMA = _schema()


# -- cost ---------------------------------------------------------------------------------------


def requested_cost(
    document: Any, operation: OperationDefinitionNode, variables: dict[str, Any]
) -> int:
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def argument(node: FieldNode, name: str) -> Any:
        for arg in node.arguments or ():
            if arg.name.value == name:
                value = arg.value
                if isinstance(value, VariableNode):
                    return variables.get(value.name.value)
                return getattr(value, "value", None)
        return None

    def cost(parent: GraphQLObjectType, selections: SelectionSetNode | None) -> int:
        total = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is not None:
                    total += cost(
                        _type(fragment.type_condition.name.value, parent), fragment.selection_set
                    )
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                total += cost(
                    _type(condition.name.value if condition else None, parent),
                    selection.selection_set,
                )
                continue
            assert isinstance(selection, FieldNode)
            field = parent.fields.get(selection.name.value)
            if field is None:
                continue
            named = get_named_type(field.type)
            if not is_object_type(named):
                continue
            assert isinstance(named, GraphQLObjectType)
            inner = cost(named, selection.selection_set)
            if named.name.endswith("Connection"):
                size = int(argument(selection, "first") or argument(selection, "last") or 0)
                total += 2 + size * inner
            elif _is_list(field.type):
                size = int(argument(selection, "first") or 1)
                total += size * (1 + inner)
            else:
                total += 1 + inner
        return total

    root = (
        SCHEMA.mutation_type if operation.operation is OperationType.MUTATION else SCHEMA.query_type
    )
    assert root is not None
    if operation.operation is OperationType.MUTATION:
        return 10 * sum(1 for s in operation.selection_set.selections if isinstance(s, FieldNode))
    return cost(root, operation.selection_set)


def _is_list(kind: Any) -> bool:
    while hasattr(kind, "of_type"):
        if is_list_type(kind):
            return True
        kind = kind.of_type
    return False


def _type(name: str | None, default: GraphQLObjectType) -> GraphQLObjectType:
    found = SCHEMA.get_type(name) if name else None
    return found if isinstance(found, GraphQLObjectType) else default


def actual_cost(data: Any) -> int:
    """Objects in the answer (a connection 2 more): what the query turned out to cost."""
    if isinstance(data, list):
        return sum(actual_cost(item) for item in data)
    if isinstance(data, dict):
        own = 2 if "pageInfo" in data else 1
        return own + sum(actual_cost(v) for v in data.values())
    return 0


# -- the endpoint -------------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, errors: list[Any]) -> None:
        self.errors = errors


@functools.lru_cache(maxsize=256)
def _checked(query: str) -> Any:
    """The document parsed and validated once per query text (a client sends the same few):
    graphql-core's parse and validate cost more than the execution itself."""
    document = parse(query)
    problems = validate(SCHEMA, document)
    if problems:
        raise _Invalid([p.formatted for p in problems])
    return document


def _cost(requested: int, actual: int | None, store: Store) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": store.bucket.status(),
        }
    }


def shopify_routers(state: ShopifyState) -> list[APIRouter]:
    api = APIRouter(tags=["shopify"])

    @api.post("/admin/api/{version}/graphql.json")
    async def graphql_endpoint(version: str, request: Request) -> JSONResponse:
        store = state.authenticated(request.headers.get("x-shopify-access-token", ""))
        if store is None:
            return JSONResponse({"errors": UNAUTHORIZED}, status_code=401)
        store.requests += 1
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        variables = body.get("variables") or {}
        try:
            document = _checked(body["query"])
        except GraphQLError as exc:
            return JSONResponse({"errors": [exc.formatted]})
        except _Invalid as exc:
            return JSONResponse({"errors": exc.errors})
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        named = body.get("operationName")
        operation = next(
            (o for o in operations if not named or (o.name and o.name.value == named)), None
        )
        if operation is None:
            return JSONResponse({"errors": [{"message": "No operation to run"}]})
        requested = requested_cost(document, operation, variables)
        if requested > MAX_QUERY_COST:
            error = {
                "message": f"Query cost is {requested}, which exceeds the single query max cost "
                f"limit ({MAX_QUERY_COST}).",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                               "maxCost": MAX_QUERY_COST},
            }  # fmt: skip
            return JSONResponse({"errors": [error], "extensions": _cost(requested, None, store)})
        if store.bucket.refill() < requested:
            error = {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED",
                               "documentation": "https://shopify.dev/api/usage/rate-limits"},
            }  # fmt: skip
            return JSONResponse({"errors": [error], "extensions": _cost(requested, None, store)})
        store.bucket.available -= requested
        result = execute(
            SCHEMA,
            document,
            variable_values=variables,
            operation_name=named,
            context_value={"store": store, "version": version},
        )
        assert not hasattr(result, "__await__")
        actual = (
            requested
            if operation.operation is OperationType.MUTATION
            else min(
                requested,
                actual_cost(result.data),
            )
        )
        store.bucket.available = min(
            store.bucket.maximum, store.bucket.available + requested - actual
        )
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        answer["data"] = result.data
        answer["extensions"] = _cost(requested, actual, store)
        return JSONResponse(answer)

    sandbox = APIRouter(prefix="/sandbox/shopify", tags=["sandbox"])

    @sandbox.post("/stores", status_code=201)
    async def new_store(spec: StoreSpec) -> dict[str, Any]:
        """A store with its access token, two customers, two variants (MUG-1, TEE-M) and two
        orders of Ana's; its bucket restores ``restore_rate`` points a second."""
        if spec.domain in state.stores:
            raise HTTPException(409, f"store {spec.domain} exists")
        made = state.new_store(
            spec.domain,
            spec.name,
            restore_rate=spec.restore_rate,
            maximum_available=spec.maximum_available,
        )
        return made.summary()

    @sandbox.get("/stores/{domain}")
    async def store(domain: str) -> dict[str, Any]:
        found = state.stores.get(domain)
        if found is None:
            raise HTTPException(404, f"no store {domain}")
        return found.summary()

    @sandbox.delete("")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return [api, sandbox]


class StoreSpec(BaseModel):
    domain: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$")
    name: str = Field("Acme", min_length=1, max_length=100)
    restore_rate: float = Field(RESTORE_RATE, gt=0, le=100_000)
    maximum_available: float = Field(MAXIMUM_AVAILABLE, gt=0, le=1_000_000)
