"""Send Reply: sends `message` to the customer in the conversation that triggered the workflow.

The channel is `channel`, else the trigger's channel, else `chat`. The notifier delivers it; the
path continues once the notifier has accepted the message (the runtime may confirm at once: the
reply does not await a result). The request is `{channel, message, conversationId}`.
"""

from typing import Any

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    as_text,
    node_kind,
)


class Config(EffectConfig):
    message: str | int | float | bool | dict[str, Any] | list[Any] | None = None
    channel: str | None = None
    quickReplies: list[str] = []


@node_kind(
    "action.send_reply",
    labels=("Send Reply", "Reply", "Send Message"),
    effect=EffectTarget.NOTIFIER,
    awaits_result=False,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is not None:
        return NodeOutcome(output=ctx.delivered)
    request = {
        "channel": config.channel or ctx.trigger_payload.get("channel") or "chat",
        "message": as_text(config.message),
        "conversationId": ctx.conversation_key(),
    }
    if config.quickReplies:
        request["quickReplies"] = list(config.quickReplies)
    return ctx.request(request)
