"""SLA Breached: starts the workflow when a conversation is reported to have missed an SLA.

The workflow reads `trigger.conversationId`, `trigger.policy` and `trigger.waitedMinutes`.
`policy` is documented but not applied yet: every breach starts the workflow, whatever its
policy (issue 11 applies trigger filters); the output falls back to it when the trigger has none.
"""

from typing import Literal

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    policy: Literal["first_response", "next_response", "resolution"] = "first_response"


@node_kind("trigger.sla_breached", labels=("SLA Breached",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"policy": ctx.trigger_payload.get("policy", config.policy)})
