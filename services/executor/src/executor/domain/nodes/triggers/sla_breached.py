"""SLA Breached: starts the workflow when the scheduler sees a conversation miss an SLA `policy`.

The workflow reads `trigger.conversationId`, `trigger.policy` and `trigger.waitedMinutes`.
"""

from typing import Literal

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    policy: Literal["first_response", "next_response", "resolution"] = "first_response"


@node_kind("trigger.sla_breached", labels=("SLA Breached",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"policy": ctx.trigger_payload.get("policy", config.policy)})
