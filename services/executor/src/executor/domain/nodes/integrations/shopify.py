"""Shopify: reads and changes orders, customers and inventory of the tenant's store, through
Shopify's GraphQL Admin API.

Actions: `getOrder` (orderId: a number or a gid) -> the order (Shopify's fields: `name`,
`displayFulfillmentStatus`, `totalPriceSet`, `lineItems.nodes`, ...); `searchOrders` (query in
Shopify's search syntax or email; first, at most 50) -> `{orders, pageInfo}`; `createOrder`
(lineItems: `{variantId | sku, quantity}` or `{title, quantity, price}`); `updateOrder`
(orderId; note, tags, email); `cancelOrder` (orderId; reason, refund, restock); `refundOrder`
(orderId; amount, else all that is left; note) -> `{refund, order}`; `getCustomer`
(customerId); `updateInventory` (sku, delta) -> `{sku, delta, available}`. Refunds and
inventory changes carry the request's idempotency key (Shopify's `@idempotent`): made once.
The result is stored in `workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "getOrder": ("orderId",),
        "createOrder": ("lineItems",),
        "updateOrder": ("orderId",),
        "cancelOrder": ("orderId",),
        "refundOrder": ("orderId",),
        "getCustomer": ("customerId",),
        "updateInventory": ("sku", "delta"),
    }

    action: Literal[
        "getOrder",
        "searchOrders",
        "createOrder",
        "updateOrder",
        "cancelOrder",
        "refundOrder",
        "getCustomer",
        "updateInventory",
    ] = "getOrder"


@node_kind(
    "integration.shopify",
    labels=("Shopify",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "shopify")
