"""Human Handoff: puts a person in the loop and waits for them.

Two forms:
- **Takeover** (the default): the conversation goes to an agent of `queue` (or `agentId`),
  routed like Assign Agent (`strategy`, `skills`, `priority`); automation pauses for it (the
  bot's other runs in the conversation stop, new messages go to the agent). When the agent
  returns the conversation to the bot, the path goes on at `resolved` (or the port the agent
  names, when wired).
- **Approval** (`requireApproval: true`): an approval item (`reason`, the `draft` to approve,
  who may decide: `approvers`, else anyone of `queue`) waits for a decision: approve (the path
  takes `approved`), edit and approve (`approved`, with the edited draft), or reject
  (`rejected`). The conversation stays with the bot.

`timeoutSeconds` bounds the wait: nobody decided in time takes `onTimeout` (`timeout`, or the
`approved`/`rejected` path). A port that is not wired falls back to `out`. The decision
(`{decision, by, at, note, draft, edited}`) is stored in `workflow.<outputVariable>` when given.
"""

from typing import Any, Literal

from pydantic import Field, model_validator

from executor.domain.nodes.agent_request import Priority, routing
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
    "resolved": "resolved",
    "returned": "resolved",
}


class Config(EffectConfig):
    queue: str | None = None
    agentId: str | None = None
    reason: str = ""
    requireApproval: bool = False
    approvers: list[str] = []
    draft: Any = None
    strategy: Literal["round_robin", "least_busy", "skill_based", "specific"] = "round_robin"
    skills: list[str] = []
    languages: list[str] = []
    priority: Priority = "auto"
    timeoutSeconds: int | None = Field(default=None, ge=1)
    onTimeout: Literal["timeout", "approved", "rejected"] = "timeout"
    outputVariable: VariableName | None = None

    @model_validator(mode="after")
    def _target(self) -> "Config":
        if not (self.queue or self.agentId or (self.requireApproval and self.approvers)):
            raise ValueError("set a queue or an agentId (or approvers for an approval)")
        return self

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",) if self.outputVariable else ()


def _port(ctx: NodeContext, config: Config, result: dict[str, Any]) -> str:
    port: str
    if result.get("timedOut"):
        port = config.onTimeout
    else:
        named = result.get("port")
        if isinstance(named, str) and named in ctx.wired_ports:
            return named
        port = _DECISIONS.get(str(result.get("decision", "")).strip().lower(), "out")
    return port if port in ctx.wired_ports else "out"


@node_kind(
    "advanced.human_handoff",
    labels=("Human Handoff", "Handoff", "Escalate to Human"),
    ports=("out", "approved", "rejected", "resolved", "timeout"),
    effect=EffectTarget.NOTIFIER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        request = routing(
            ctx,
            queue=config.queue,
            agent_id=config.agentId,
            strategy=config.strategy,
            skills=config.skills,
            languages=config.languages,
            priority=config.priority,
        )
        request["reason"] = as_text(config.reason)
        if config.requireApproval:
            request.update(
                requireApproval=True,
                approvers=[as_text(a) for a in config.approvers],
                approval={"reason": as_text(config.reason), "draft": config.draft},
            )
        if config.timeoutSeconds:
            request["timeoutSeconds"] = config.timeoutSeconds
        return ctx.request(request)
    result = dict(ctx.delivered)
    if result.get("timedOut"):
        result = {"decision": "timeout", **result}
    if config.outputVariable:
        ctx.store_result(config.outputVariable, result)
    return NodeOutcome(port=_port(ctx, config, ctx.delivered), output=result)
