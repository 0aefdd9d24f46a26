"""The Stripe client on the official SDK, against a recorded Stripe (httpx.MockTransport under
the SDK's own httpx client): what it sends (the key per request, Idempotency-Key on writes, no
retries), what it answers, and how Stripe's errors are typed. tests-e2e/test_stripe.py runs it
against stripe-mock in the whole stack."""

from __future__ import annotations

import json
import types
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import stripe
from contracts.connections import StripeConfig
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection
from integrations.providers.stripe import StripeClient
from servicekit.sealing import Secret

KEY = "sk_test_CANARY4242abcd"


class Recorded:
    """Stripe's side: answers ``status``/``body`` and records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200
        self.body: dict[str, Any] = {"id": "re_1", "object": "refund", "amount": 500}
        self.headers: dict[str, str] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body, headers=self.headers)


@pytest.fixture
def stripe_side() -> Recorded:
    return Recorded()


@pytest.fixture
async def client(stripe_side: Recorded):
    transport = httpx.MockTransport(stripe_side)

    def async_client(**kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport)

    lib = types.SimpleNamespace(**{**vars(httpx), "AsyncClient": async_client})
    made = StripeClient(stripe.HTTPXClient(_lib=lib))
    yield made
    await made.aclose()


def connection(key: str = KEY) -> Connection:
    return Connection(
        id="con_1",
        tenant_id="ten_1",
        type="stripe",
        name="Live",
        config=StripeConfig(base_url="http://stripe.test"),
        credentials={"api_key": Secret(key)},
    )


def context() -> CallContext:
    return CallContext.within("exe_1:refund:1:1", 5)


async def test_a_refund_is_posted_with_the_key_and_the_idempotency_key(client, stripe_side):
    refund = await client.call(
        connection(),
        "createRefund",
        {"paymentIntentId": "pi_1", "amount": "500", "reason": "requested_by_customer"},
        context(),
    )
    assert refund == stripe_side.body
    [sent] = stripe_side.requests
    assert (sent.method, sent.url.path) == ("POST", "/v1/refunds")
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.headers["Idempotency-Key"] == "exe_1:refund:1:1"
    assert parse_qs(sent.content.decode()) == {
        "payment_intent": ["pi_1"],
        "amount": ["500"],
        "reason": ["requested_by_customer"],
    }


async def test_reads_carry_no_idempotency_key_and_ids_are_path_safe(client, stripe_side):
    stripe_side.body = {"id": "cus_1", "object": "customer"}
    await client.call(connection(), "getCustomer", {"customerId": "cus_1/../balance"}, context())
    [sent] = stripe_side.requests
    assert sent.method == "GET" and "Idempotency-Key" not in sent.headers
    assert sent.url.raw_path.decode() == "/v1/customers/cus_1%2F..%2Fbalance"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"paymentIntentId": ""}, "paymentIntentId must be an id"),
        ({"paymentIntentId": "pi_1", "amount": "12.50"}, "whole cents"),
        ({"paymentIntentId": "pi_1", "amount": -5}, "positive"),
    ],
)
async def test_bad_parameters_are_invalid_without_a_request(client, stripe_side, params, reason):
    with pytest.raises(IntegrationError, match=reason) as raised:
        await client.call(connection(), "createRefund", params, context())
    assert raised.value.error_type == "Invalid" and stripe_side.requests == []


def err(kind: str, message: str, code: str | None = None) -> dict[str, Any]:
    return {"type": kind, "message": message, **({"code": code} if code else {})}


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        (401, err("invalid_request_error", f"Invalid API Key provided: {KEY}"), "Unauthorized"),
        (403, err("invalid_request_error", "restricted key"), "Forbidden"),
        (
            404,
            err("invalid_request_error", "No such payment_intent", "resource_missing"),
            "NotFound",
        ),
        (
            400,
            err("invalid_request_error", "already refunded", "charge_already_refunded"),
            "Invalid",
        ),
        (402, err("card_error", "Your card was declined.", "card_declined"), "Invalid"),
        (400, err("idempotency_error", "same key, other parameters"), "Conflict"),
        (429, err("invalid_request_error", "Too many requests", "rate_limit"), "RateLimited"),
        (500, err("api_error", "Something went wrong on Stripe's end."), "Unavailable"),
    ],
)
async def test_stripes_errors_are_typed_and_never_show_the_key(
    client, stripe_side, status, error, expected
):
    stripe_side.status, stripe_side.body = status, {"error": error}
    with pytest.raises(IntegrationError) as raised:
        await client.call(connection(), "createRefund", {"paymentIntentId": "pi_9"}, context())
    assert raised.value.error_type == expected
    assert KEY not in str(raised.value) and "CANARY" not in json.dumps(raised.value.as_error())
    assert len(stripe_side.requests) == 1, "the SDK retries nothing: the service does"


async def test_an_unreachable_stripe_is_unavailable() -> None:
    client = StripeClient()
    down = Connection(
        id="con_1",
        tenant_id="ten_1",
        type="stripe",
        name="Live",
        config=StripeConfig(base_url="http://127.0.0.1:9"),
        credentials={"api_key": Secret(KEY)},
    )
    with pytest.raises(IntegrationError) as raised:
        await client.call(down, "getCustomer", {"customerId": "cus_1"}, context())
    await client.aclose()
    assert raised.value.error_type == "Unavailable" and raised.value.transient


async def test_check_reads_the_balance(client, stripe_side):
    stripe_side.body = {"object": "balance", "livemode": False, "available": []}
    assert await client.check(connection(), context()) == {"livemode": False, "available": []}
    assert stripe_side.requests[0].url.path == "/v1/balance"
