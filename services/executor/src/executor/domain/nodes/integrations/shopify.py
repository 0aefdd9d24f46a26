"""Shopify: reads and changes orders, customers and inventory of the tenant's store.

Actions: `getOrder` (orderId), `searchOrders`, `createOrder`, `updateOrder` (orderId),
`cancelOrder` (orderId), `refundOrder` (orderId), `getCustomer` (customerId), `updateInventory`
(sku, delta). Other config fields are passed as parameters; the result is stored in
`workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "getOrder": ("orderId",),
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
