"""Assign Agent: hands the conversation to an agent, chosen from `queue` by `strategy`.

Strategies: `round_robin`, `least_busy`, `skill_based` (agents with all `skills`) or
`specific` (`agentId`). The path continues when the notifier reports the assignment; the result
(`{agentId, queue}`) is stored in `workflow.<outputVariable>` when one is given.
"""

from typing import Literal

from pydantic import model_validator

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName


class Config(EffectConfig):
    queue: str | None = None
    agentId: str | None = None
    strategy: Literal["round_robin", "least_busy", "skill_based", "specific"] = "round_robin"
    skills: list[str] = []
    outputVariable: VariableName | None = None

    @model_validator(mode="after")
    def _target(self) -> "Config":
        if self.strategy == "specific" and not self.agentId:
            raise ValueError("the specific strategy needs agentId")
        if not (self.queue or self.agentId):
            raise ValueError("set a queue or an agentId")
        return self

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",) if self.outputVariable else ()


@node_kind(
    "action.assign_agent",
    labels=("Assign Agent", "Assign"),
    effect=EffectTarget.NOTIFIER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        return ctx.request(
            {
                "conversationId": ctx.conversation_key(),
                "queue": config.queue,
                "agentId": config.agentId,
                "strategy": config.strategy,
                "skills": list(config.skills),
            }
        )
    if config.outputVariable:
        ctx.store_result(config.outputVariable, ctx.delivered)
    return NodeOutcome(output=ctx.delivered)
