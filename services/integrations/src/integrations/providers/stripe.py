"""Stripe, through the official SDK (``stripe``): its async client over httpx, one per API
root, the connection's key given per request. The SDK retries nothing (``max_network_retries=
0``: the service retries, within the call's budget); every POST carries the call's idempotency
key as Stripe's ``Idempotency-Key``, so a redelivered refund is not paid twice.

Errors, by the SDK's classes (https://docs.stripe.com/api/errors): AuthenticationError
Unauthorized, PermissionError Forbidden, InvalidRequestError NotFound (404) or Invalid, CardError
Invalid, IdempotencyError Conflict, RateLimitError RateLimited, APIConnectionError Unavailable,
APIError (5xx) Unavailable. The message is Stripe's, with anything key-like masked."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Mapping
from typing import Any

import stripe
from contracts.connections import Limits

from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection

Document = dict[str, Any]
# The SDK logs every API error at info, in Stripe's words, which may repeat what was sent (a
# refused key: "Authorization was 'Bearer ...'"); the service records its own masked error.
logging.getLogger("stripe").setLevel(logging.WARNING)
API = "https://api.stripe.com"
# "Basic rate limiter: up to 100 operations per second in live mode and 25 in sandboxes"
# (https://docs.stripe.com/rate-limits); a connection may set its own.
LIMITS = Limits(rate=25, per_seconds=1, burst=25, concurrency=16)
_KEYISH = re.compile(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9*]+")

CUSTOMER_FIELDS = {
    "email": "email",
    "name": "name",
    "phone": "phone",
    "description": "description",
    "metadata": "metadata",
}
_BY_ERROR: tuple[tuple[type[stripe.StripeError], str], ...] = (
    (stripe.AuthenticationError, "Unauthorized"),
    (stripe.PermissionError, "Forbidden"),
    (stripe.CardError, "Invalid"),
    (stripe.IdempotencyError, "Conflict"),
    (stripe.RateLimitError, "RateLimited"),
    (stripe.APIConnectionError, "Unavailable"),
)


def _masked(text: str, key: str) -> str:
    return _KEYISH.sub(lambda m: f"{m[1]}_{m[2]}_****", text.replace(key, "****") if key else text)


def _error(exc: stripe.StripeError, key: str) -> IntegrationError:
    status = exc.http_status
    said = " ".join((exc.user_message or str(exc) or type(exc).__name__).split())
    message = _masked(said, key)
    if exc.code:
        message = f"{message} ({exc.code})"
    for kind, error_type in _BY_ERROR:
        if isinstance(exc, kind):
            return IntegrationError(error_type, f"Stripe: {message}", status)
    if status is None:
        return IntegrationError("Unavailable", f"Stripe: {message}")
    return IntegrationError.from_status(status, f"Stripe: {message}")


def _picked(params: Mapping[str, Any], names: Mapping[str, str]) -> Document:
    """The node's parameters (camelCase) that Stripe takes, by Stripe's names."""
    return {stripe_name: params[ours] for ours, stripe_name in names.items() if params.get(ours)}


def _id(params: Mapping[str, Any], name: str) -> str:
    """An object's id from the node (a missing one is Invalid before any request)."""
    value = params.get(name)
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise IntegrationError("Invalid", f"Stripe: {name} must be an id, e.g. pi_3MtwBw...")
    return str(value).strip()


def _amount(value: Any) -> int:
    """An amount in the currency's smallest unit (cents), as Stripe takes it."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise IntegrationError("Invalid", "Stripe: amount must be a whole number of cents")
    try:
        amount = int(value)
    except ValueError:
        raise IntegrationError("Invalid", "Stripe: amount must be whole cents") from None
    if amount <= 0:
        raise IntegrationError("Invalid", "Stripe: amount must be positive")
    return amount


class StripeClient:
    type = "stripe"
    actions: Mapping[str, tuple[str, ...]] = {
        "getPaymentIntent": ("paymentIntentId",),
        "createRefund": ("paymentIntentId",),
        "createCustomer": (),
        "getCustomer": ("customerId",),
        "getSubscription": ("subscriptionId",),
        "cancelSubscription": ("subscriptionId",),
    }
    default_limits = LIMITS

    def __init__(self, http: stripe.HTTPXClient | None = None) -> None:
        """``http``: the SDK's httpx client (one per process by default)."""
        self._http = http
        self._clients: dict[str, stripe.StripeClient] = {}

    def _client(self, base: str) -> stripe.StripeClient:
        client = self._clients.get(base)
        if client is None:
            if self._http is None:
                self._http = stripe.HTTPXClient(timeout=120)
            # the key is each request's (RequestOptions); this one is never sent
            client = stripe.StripeClient(
                "sk_unused",
                base_addresses={"api": base},
                http_client=self._http,
                max_network_retries=0,
            )
            self._clients[base] = client
        return client

    async def call(
        self, connection: Connection, action: str, params: Document, context: CallContext
    ) -> Document:
        v1 = self._client(connection.base(API)).v1
        key = connection.secret("api_key")
        read: Any = {"api_key": key}
        write: Any = {"api_key": key, "idempotency_key": context.idempotency_key}
        request: Awaitable[stripe.StripeObject]
        if action == "getPaymentIntent":
            intent = _id(params, "paymentIntentId")
            request = v1.payment_intents.retrieve_async(intent, options=read)
        elif action == "createRefund":
            refund: Any = {"payment_intent": _id(params, "paymentIntentId")}
            refund |= _picked(params, {"reason": "reason", "metadata": "metadata"})
            if params.get("amount") not in (None, ""):
                refund["amount"] = _amount(params["amount"])
            request = v1.refunds.create_async(refund, options=write)
        elif action == "createCustomer":
            customer: Any = _picked(params, CUSTOMER_FIELDS)
            request = v1.customers.create_async(customer, options=write)
        elif action == "getCustomer":
            request = v1.customers.retrieve_async(_id(params, "customerId"), options=read)
        elif action == "getSubscription":
            request = v1.subscriptions.retrieve_async(_id(params, "subscriptionId"), options=read)
        elif action == "cancelSubscription":
            cancel: Any = _picked(params, {"invoiceNow": "invoice_now", "prorate": "prorate"})
            request = v1.subscriptions.cancel_async(
                _id(params, "subscriptionId"), cancel, options=write
            )
        else:
            raise IntegrationError("Invalid", f"Stripe has no action {action!r}")
        return await self._answer(request, connection, context, key)

    async def check(self, connection: Connection, context: CallContext) -> Document:
        v1 = self._client(connection.base(API)).v1
        key = connection.secret("api_key")
        request = v1.balance.retrieve_async(options={"api_key": key})
        balance = await self._answer(request, connection, context, key)
        return {"livemode": balance.get("livemode"), "available": balance.get("available")}

    async def _answer(
        self,
        request: Awaitable[stripe.StripeObject],
        connection: Connection,
        context: CallContext,
        key: str,
    ) -> Document:
        seconds = context.seconds_for(connection)
        try:
            async with asyncio.timeout(seconds):
                answer = await request
        except TimeoutError:
            message = f"Stripe did not answer within {seconds:.1f}s"
            raise IntegrationError("Timeout", message) from None
        except stripe.StripeError as exc:
            raise _error(exc, key) from None
        result: Document = answer.to_dict()
        return result

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close_async()  # type: ignore[no-untyped-call]
            self._http = None
        self._clients.clear()
