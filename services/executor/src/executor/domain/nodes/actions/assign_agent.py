"""Assign Agent: hands the conversation to an agent, chosen from `queue` by `strategy`.

Strategies: `round_robin` (the agent given a conversation longest ago), `least_busy` (open
conversations against capacity), `skill_based` (agents with all `skills` and, when given or
known from `customer.language`, one of `languages`; then least busy) or `specific`
(`agentId`). Only online agents below capacity who take the conversation's channel are
chosen. When nobody fits, the conversation waits in the queue and gets the next agent who
frees up, by priority (`priority`, or `auto`: a VIP customer, negative sentiment or an SLA at
risk first), then age. Either way the conversation is the agent's from now on: the bot's
other runs in it stop and new messages go to the agent, until it is returned to the bot.

The path goes on once the router decided: the result (`{status: assigned | queued,
agentId, agentName, queue, reason, assignmentId}`) is stored in `workflow.<outputVariable>`
when given. A queue the tenant does not have fails the node (`QueueUnknown`).
"""

from typing import Literal

from pydantic import model_validator

from executor.domain.nodes.agent_request import Priority, routing
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
    languages: list[str] = []
    priority: Priority = "auto"
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
            routing(
                ctx,
                queue=config.queue,
                agent_id=config.agentId,
                strategy=config.strategy,
                skills=config.skills,
                languages=config.languages,
                priority=config.priority,
            )
        )
    if config.outputVariable:
        ctx.store_result(config.outputVariable, ctx.delivered)
    return NodeOutcome(output=ctx.delivered)
