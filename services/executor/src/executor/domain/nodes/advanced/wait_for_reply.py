"""Wait for Reply: pauses this path until the customer's next message in the conversation.

The message (`{text, channel, receivedAt, ...}`) is stored in `workflow.<outputVariable>`
(default `reply`), so a Condition can test `workflow.reply.text`. With `timeoutSeconds`, a
customer who stays silent sends the path down `timeout` (or `out` if nothing is wired there).
"""

from typing import Any

from pydantic import Field

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName


class Config(EffectConfig):
    timeoutSeconds: int | None = Field(default=None, ge=1)
    outputVariable: VariableName = "reply"

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",)


@node_kind(
    "advanced.wait_for_reply",
    labels=("Wait for Reply", "Await Reply"),
    ports=("out", "timeout"),
    effect=EffectTarget.EXECUTOR,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        request: dict[str, Any] = {"conversationId": ctx.conversation_key()}
        if config.timeoutSeconds:
            request["timeout_seconds"] = config.timeoutSeconds
        return ctx.request(request)
    if ctx.delivered.get("timedOut"):
        port = "timeout" if "timeout" in ctx.wired_ports else "out"
        return NodeOutcome(port=port, output=ctx.delivered)
    ctx.store_result(config.outputVariable, ctx.delivered)
    return NodeOutcome(output=ctx.delivered)
