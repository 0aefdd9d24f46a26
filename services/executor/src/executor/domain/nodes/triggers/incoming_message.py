"""Incoming Message: starts the workflow when a customer writes on a chat, SMS or WhatsApp channel.

Inside the workflow the message is available as `trigger.text`, `trigger.channel`,
`trigger.conversationId` and so on. With `channels` set, only a message on one of them starts
the workflow (empty: every channel).
"""

from collections.abc import Mapping
from typing import Any, Literal

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind

Channel = Literal["chat", "sms", "whatsapp", "email", "voice", "api"]


class Config(NodeConfig):
    channels: list[Channel] = []


@node_kind("trigger.incoming_message", labels=("Incoming Message",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"channel": ctx.trigger_payload.get("channel")})


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a message does not start the workflow, or None when it does."""
    if config.channels and trigger.get("channel") not in config.channels:
        return f"channel {trigger.get('channel')!r} is not one of {config.channels}"
    return None
