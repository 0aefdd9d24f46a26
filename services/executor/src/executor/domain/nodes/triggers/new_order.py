"""New Order: starts the workflow when a store (Shopify webhook) reports a new order.

The order is the trigger payload: `trigger.name`, `trigger.line_items`, `trigger.total_price`.
With `storeIds` set, only an order of one of those stores (`trigger.storeId`) starts the
workflow (empty: every store).
"""

from collections.abc import Mapping
from typing import Any

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    storeIds: list[str] = []


@node_kind("trigger.new_order", labels=("New Order",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"order": ctx.trigger_payload.get("name")})


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why an order does not start the workflow, or None when it does."""
    if config.storeIds and trigger.get("storeId") not in config.storeIds:
        return f"store {trigger.get('storeId')!r} is not one of {config.storeIds}"
    return None
