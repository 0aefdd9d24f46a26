"""Stripe: payments, refunds, customers and subscriptions.

Actions: `getPaymentIntent` (paymentIntentId), `createRefund` (paymentIntentId, optional
amount), `createCustomer`, `getCustomer` (customerId), `getSubscription` (subscriptionId),
`cancelSubscription` (subscriptionId). Stripe receives the request's idempotency key, so a
redelivered refund is not paid twice. The result is stored in `workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "getPaymentIntent": ("paymentIntentId",),
        "createRefund": ("paymentIntentId",),
        "getCustomer": ("customerId",),
        "getSubscription": ("subscriptionId",),
        "cancelSubscription": ("subscriptionId",),
    }

    action: Literal[
        "getPaymentIntent",
        "createRefund",
        "createCustomer",
        "getCustomer",
        "getSubscription",
        "cancelSubscription",
    ] = "getPaymentIntent"


@node_kind(
    "integration.stripe",
    labels=("Stripe",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "stripe")
