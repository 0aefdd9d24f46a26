"""SLA Breached: starts the workflow when one of a conversation's SLA clocks passes its target
(the scheduler's SLA keeper, on the tenant's `/v1/sla-policies`: docs/architecture.md, *SLA
clocks*; a caller may post one too).

The workflow reads `trigger.conversationId`, `trigger.policy` (the clock: first_response,
next_response or resolution), `trigger.policyId`, `trigger.policyName`, `trigger.priority`,
`trigger.targetSeconds`, `trigger.elapsedSeconds`, `trigger.overrunSeconds` and
`trigger.waitedMinutes` (business time), `trigger.startedAt` and `trigger.dueAt`. Only a
breach of the node's `policy` starts the workflow (a report that names none counts as that
one), and with `policyIds` set only those policies' breaches.
"""

from collections.abc import Mapping
from typing import Any, Literal

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    policy: Literal["first_response", "next_response", "resolution"] = "first_response"
    policyIds: list[str] = []


@node_kind("trigger.sla_breached", labels=("SLA Breached",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output=clock_output(ctx, config))


def clock_output(ctx: NodeContext, config: Config) -> dict[str, Any]:
    """The clock, and what the keeper said of it (its policy, overrun, due time)."""
    payload = ctx.trigger_payload
    told = {k: payload[k] for k in ("policyId", "overrunSeconds", "dueAt") if k in payload}
    return {"policy": payload.get("policy", config.policy), **told}


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a crossing does not start the workflow, or None when it does."""
    policy = trigger.get("policy", config.policy)
    if policy != config.policy:
        return f"policy {policy!r} is not {config.policy!r}"
    if config.policyIds and trigger.get("policyId") not in config.policyIds:
        return f"SLA policy {trigger.get('policyId')!r} is not one of {config.policyIds}"
    return None
