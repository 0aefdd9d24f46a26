"""New Order: starts the workflow when a store (Shopify webhook) reports a new order.

The order is the trigger payload: `trigger.name`, `trigger.line_items`, `trigger.total_price`.
`storeIds` is documented but not applied yet: every order starts the workflow, whatever its
store (issue 11 applies trigger filters).
"""

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    storeIds: list[str] = []


@node_kind("trigger.new_order", labels=("New Order",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"order": ctx.trigger_payload.get("name")})
