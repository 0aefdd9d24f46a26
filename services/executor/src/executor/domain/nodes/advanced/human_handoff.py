"""Human Handoff: puts the conversation in front of a person and waits for their decision.

The request goes to `queue` (or `agentId`) with `reason`. The agent answers approve or reject:
the path continues on `approved` or `rejected` when those edges exist, otherwise on `out`. The
decision (`{decision, agentId, note}`) is stored in `workflow.<outputVariable>` when given.
`timeoutSeconds` lets the notifier answer `{decision: "timeout"}`, which takes `out`.
"""

from typing import Any

from pydantic import Field, model_validator

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    as_text,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName

_DECISIONS = {
    "approve": "approved",
    "approved": "approved",
    "yes": "approved",
    "reject": "rejected",
    "rejected": "rejected",
    "no": "rejected",
}


class Config(EffectConfig):
    queue: str | None = None
    agentId: str | None = None
    reason: str = ""
    timeoutSeconds: int | None = Field(default=None, ge=1)
    outputVariable: VariableName | None = None

    @model_validator(mode="after")
    def _target(self) -> "Config":
        if not (self.queue or self.agentId):
            raise ValueError("set a queue or an agentId")
        return self

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",) if self.outputVariable else ()


def _port(ctx: NodeContext, result: dict[str, Any]) -> str:
    decision = _DECISIONS.get(str(result.get("decision", "")).strip().lower())
    return decision if decision in ctx.wired_ports else "out"


@node_kind(
    "advanced.human_handoff",
    labels=("Human Handoff", "Handoff", "Escalate to Human"),
    ports=("out", "approved", "rejected"),
    effect=EffectTarget.NOTIFIER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        request: dict[str, Any] = {
            "conversationId": ctx.conversation_key(),
            "queue": config.queue,
            "agentId": config.agentId,
            "reason": as_text(config.reason),
        }
        if config.timeoutSeconds:
            request["timeoutSeconds"] = config.timeoutSeconds
        return ctx.request(request)
    if config.outputVariable:
        ctx.store_result(config.outputVariable, ctx.delivered)
    return NodeOutcome(port=_port(ctx, ctx.delivered), output=ctx.delivered)
