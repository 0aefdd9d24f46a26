"""SLA At Risk: starts the workflow when one of a conversation's SLA clocks has used its
policy's `at_risk_fraction` of the target (the scheduler's SLA keeper: docs/architecture.md,
*SLA clocks*), so that it can act before the breach.

The workflow reads what SLA Breached reads (`trigger.policy`, `trigger.policyId`,
`trigger.targetSeconds`, `trigger.elapsedSeconds`, `trigger.dueAt`: when it will breach, ...).
Filters: the clock (`policy`) and, when set, `policyIds`.
"""

from executor.domain.nodes.contract import NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.triggers.sla_breached import Config, admits, clock_output

__all__ = ["Config", "admits", "execute"]


@node_kind("trigger.sla_at_risk", labels=("SLA At Risk",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(
        output={**clock_output(ctx, config), "dueAt": ctx.trigger_payload.get("dueAt")}
    )
