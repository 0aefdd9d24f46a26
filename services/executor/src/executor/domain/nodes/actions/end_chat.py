"""End Chat: closes the conversation, after a goodbye `message` on its channel when given.

The conversation's status becomes `closed` with `resolution` (`resolved` or `closed`); its
agent is released and the bot's other runs in it are cancelled (their waits and timers with
them). Nodes after End Chat still run (for example a survey email). The customer's next message
reopens the conversation. On a phone call, End Chat says the message and hangs up.
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
    effect=EffectTarget.EXECUTOR,
    awaits_result=False,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output=ctx.delivered)
    request = {"conversationId": ctx.conversation_key(), "status": config.status}
    if config.message:
        request["message"] = as_text(config.message)
    return ctx.request(request)
