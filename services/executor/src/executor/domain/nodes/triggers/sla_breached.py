"""SLA Breached: starts the workflow when a conversation is reported to have missed an SLA.

The workflow reads `trigger.conversationId`, `trigger.policy` and `trigger.waitedMinutes`. Only
a breach of the node's `policy` starts the workflow; a report that names no policy counts as
that policy (the output falls back to it too).
"""

from collections.abc import Mapping
from typing import Any, Literal

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    policy: Literal["first_response", "next_response", "resolution"] = "first_response"


@node_kind("trigger.sla_breached", labels=("SLA Breached",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"policy": ctx.trigger_payload.get("policy", config.policy)})


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a breach does not start the workflow, or None when it does."""
    policy = trigger.get("policy", config.policy)
    if policy != config.policy:
        return f"policy {policy!r} is not {config.policy!r}"
    return None
