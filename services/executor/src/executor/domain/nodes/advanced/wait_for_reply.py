"""Wait for Reply: pauses this path until the customer's next message in the conversation.

The message (`{text, channel, receivedAt, ...}`) is stored in `workflow.<outputVariable>`
(default `reply`), so a Condition can test `workflow.reply.text`. With `timeoutSeconds`, a
customer who stays silent sends the path down `timeout` (or `out` if nothing is wired there).

`match` (the Condition's structured form or an expression, reading the reply where it is
stored, e.g. `workflow.reply.text.matches("^[0-9]+$")`) says what an acceptable answer is: a
reply that does not
match is answered with `repromptMessage` (when set) and waited for again, up to
`maxReprompts` times; then the path goes to `no_match` (or `out` if nothing is wired there).
Every wait has its own timeout. The output says whether the reply matched and how many
re-prompts it took.
"""

from typing import Any

from pydantic import Field

from executor.domain.expressions import ConditionError
from executor.domain.nodes.condition_field import CompiledCondition
from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName


class Config(EffectConfig):
    raw_fields = frozenset({"match"})

    timeoutSeconds: int | None = Field(default=None, ge=1)
    outputVariable: VariableName = "reply"
    match: CompiledCondition | None = None
    repromptMessage: str | None = Field(default=None, min_length=1)
    maxReprompts: int = Field(default=2, ge=0, le=10)

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",)

    def read_paths(self) -> tuple[str, ...]:
        return () if self.match is None else tuple(self.match.paths)


def _wait(ctx: NodeContext, config: Config, prompt: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {"conversationId": ctx.conversation_key()}
    if config.timeoutSeconds:
        request["timeout_seconds"] = config.timeoutSeconds
    if prompt:
        request["prompt"] = prompt  # sent on the conversation's channel before waiting
    return request


def _matches(ctx: NodeContext, config: Config) -> bool:
    assert config.match is not None
    try:
        return bool(config.match.evaluate(ctx.context))
    except ConditionError:
        return False  # a reply the test cannot even read (no text, ...) is no answer


@node_kind(
    "advanced.wait_for_reply",
    labels=("Wait for Reply", "Await Reply"),
    ports=("out", "timeout", "no_match"),
    effect=EffectTarget.EXECUTOR,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        return ctx.request(_wait(ctx, config, None))
    reprompts = ctx.attempt - 1
    if ctx.delivered.get("timedOut"):
        port = "timeout" if "timeout" in ctx.wired_ports else "out"
        return NodeOutcome(port=port, output={**ctx.delivered, "reprompts": reprompts})
    ctx.store_result(config.outputVariable, ctx.delivered)
    if config.match is None:
        return NodeOutcome(output=ctx.delivered)
    if _matches(ctx, config):
        return NodeOutcome(output={**ctx.delivered, "matched": True, "reprompts": reprompts})
    if reprompts < config.maxReprompts:
        return ctx.request(
            _wait(ctx, config, config.repromptMessage),
            output={"matched": False, "reply": ctx.delivered, "reprompts": reprompts + 1},
        )
    port = "no_match" if "no_match" in ctx.wired_ports else "out"
    return NodeOutcome(
        port=port, output={**ctx.delivered, "matched": False, "reprompts": reprompts}
    )
