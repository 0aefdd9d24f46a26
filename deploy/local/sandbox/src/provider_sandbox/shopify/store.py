"""The sandbox's Shopify stores: orders, customers, variants with inventory, refunds, each
store's access token and its leaky bucket of query cost, in memory. The GraphQL resolvers
(graphql.py) read and change these."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..oauth import IssuedTokens

# Shopify's Standard plan: 100 points a second restored (https://shopify.dev/docs/api/usage/limits).
RESTORE_RATE = 100.0
MAXIMUM_AVAILABLE = 2000.0


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def number_of(value: Any, kind: str) -> int | None:
    """The number in `gid://shopify/<kind>/<n>` (or a bare number); None when it is not one."""
    text = str(value)
    prefix = f"gid://shopify/{kind}/"
    if text.startswith(prefix):
        text = text[len(prefix) :]
    return int(text) if text.isdigit() else None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal | str | float, currency: str) -> dict[str, Any]:
    value = {
        "amount": str(Decimal(str(amount)).quantize(Decimal("0.01"))),
        "currencyCode": currency,
    }
    return {"shopMoney": value, "presentmentMoney": dict(value)}


@dataclass
class Bucket:
    """Shopify's leaky bucket of query cost for one app on one store."""

    maximum: float = MAXIMUM_AVAILABLE
    restore_rate: float = RESTORE_RATE
    available: float = MAXIMUM_AVAILABLE
    at: float = field(default_factory=time.monotonic)

    def refill(self) -> float:
        moment = time.monotonic()
        self.available = min(self.maximum, self.available + (moment - self.at) * self.restore_rate)
        self.at = moment
        return self.available

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.refill(), 1),
            "restoreRate": self.restore_rate,
        }


@dataclass
class Store:
    domain: str
    name: str
    access_token: str
    currency: str = "USD"
    bucket: Bucket = field(default_factory=Bucket)
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    variants: dict[int, dict[str, Any]] = field(default_factory=dict)
    # idempotency key -> the mutation's answer (Shopify's @idempotent directive)
    idempotent: dict[str, Any] = field(default_factory=dict)
    mutations: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> int:
        return next(self._ids)

    def summary(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": self.name,
            "access_token": self.access_token,
            "currency": self.currency,
            "orders": sorted(self.orders),
            "customers": sorted(self.customers),
            "variants": {v["sku"]: v["available"] for v in self.variants.values()},
            "throttle": self.bucket.status(),
            "requests": self.requests,
            "mutations": self.mutations,
        }

    # -- seeding and changes ------------------------------------------------------------------

    def add_customer(self, first: str, last: str, email: str, phone: str | None) -> dict[str, Any]:
        number = self.next_id()
        customer = {
            "number": number,
            "firstName": first,
            "lastName": last,
            "email": email,
            "phone": phone,
            "tags": [],
            "note": None,
            "createdAt": now(),
        }
        self.customers[number] = customer
        return customer

    def add_variant(self, sku: str, title: str, price: str, available: int) -> dict[str, Any]:
        number = self.next_id()
        variant = {
            "number": number,
            "sku": sku,
            "title": title,
            "price": price,
            "available": available,
            "item": self.next_id(),
        }
        self.variants[number] = variant
        return variant

    def add_order(
        self,
        customer: dict[str, Any] | None,
        lines: list[tuple[dict[str, Any] | None, str, int, str]],
        *,
        email: str | None = None,
        note: str | None = None,
        tags: list[str] | None = None,
        paid: bool = True,
        fulfilled: bool = False,
    ) -> dict[str, Any]:
        """``lines``: (variant or None, title, quantity, unit price)."""
        number = self.next_id()
        total = sum((Decimal(price) * quantity for _, _, quantity, price in lines), Decimal(0))
        order: dict[str, Any] = {
            "number": number,
            "name": f"#{1000 + len(self.orders) + 1}",
            "email": email or (customer or {}).get("email"),
            "phone": (customer or {}).get("phone"),
            "createdAt": now(),
            "updatedAt": now(),
            "cancelledAt": None,
            "cancelReason": None,
            "closed": False,
            "note": note,
            "tags": list(tags or []),
            "customer": None if customer is None else customer["number"],
            "total": total,
            "refunded": Decimal(0),
            "fulfillment": "FULFILLED" if fulfilled else "UNFULFILLED",
            "lines": [
                {
                    "number": self.next_id(),
                    "title": title,
                    "sku": None if variant is None else variant["sku"],
                    "quantity": quantity,
                    "price": price,
                    "variant": None if variant is None else variant["number"],
                }
                for variant, title, quantity, price in lines
            ],
            "transactions": [],
            "refunds": [],
        }
        if paid and total > 0:
            order["transactions"].append(
                {
                    "number": self.next_id(),
                    "kind": "SALE",
                    "status": "SUCCESS",
                    "gateway": "bogus",
                    "amount": total,
                    "createdAt": now(),
                    "parent": None,
                }
            )
        self.orders[number] = order
        return order

    def financial_status(self, order: dict[str, Any]) -> str:
        paid = any(t["kind"] in ("SALE", "CAPTURE") for t in order["transactions"])
        if not paid:
            return "PENDING"
        if order["refunded"] >= order["total"]:
            return "REFUNDED"
        return "PARTIALLY_REFUNDED" if order["refunded"] > 0 else "PAID"


class ShopifyState:
    def __init__(self) -> None:
        self.stores: dict[str, Store] = {}
        self.by_token: dict[str, Store] = {}
        self.tokens = IssuedTokens[Store]()  # offline tokens an OAuth grant issued

    def reset(self) -> None:
        self.stores.clear()
        self.by_token.clear()
        self.tokens.clear()

    def authenticated(self, token: str) -> Store | None:
        return self.by_token.get(token) or self.tokens.account(token)

    def new_store(
        self, domain: str, name: str, *, restore_rate: float, maximum_available: float
    ) -> Store:
        store = Store(domain, name, "shpat_" + secrets.token_hex(16))
        store.bucket = Bucket(maximum_available, restore_rate, maximum_available)
        ana = store.add_customer("Ana", "Lopez", "ana@example.com", "+14155550101")
        store.add_customer("Bo", "Chen", "bo@example.com", None)
        mug = store.add_variant("MUG-1", "Mug", "12.50", 40)
        tee = store.add_variant("TEE-M", "T-shirt M", "25.00", 5)
        store.add_order(ana, [(mug, "Mug", 2, "12.50"), (tee, "T-shirt M", 1, "25.00")])
        store.add_order(ana, [(tee, "T-shirt M", 2, "25.00")], fulfilled=True)
        self.stores[domain] = store
        self.by_token[store.access_token] = store
        return store
