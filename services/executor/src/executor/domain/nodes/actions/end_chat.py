"""End Chat: closes the conversation, optionally with a goodbye `message`.

The conversation gets `status` (`resolved` or `closed`). Nodes after End Chat still run (for
example a survey email), but the customer can no longer reply in this conversation.
"""

from typing import Literal

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    as_text,
    node_kind,
)


class Config(EffectConfig):
    message: str | None = None
    status: Literal["resolved", "closed"] = "resolved"


@node_kind(
    "action.end_chat",
    labels=("End Chat", "Close Conversation"),
    effect=EffectTarget.NOTIFIER,
    awaits_result=False,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output=ctx.delivered)
    request = {"conversationId": ctx.conversation_key(), "status": config.status}
    if config.message:
        request["message"] = as_text(config.message)
    return ctx.request(request)
