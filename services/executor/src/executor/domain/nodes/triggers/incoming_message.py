"""Incoming Message: starts the workflow when a customer writes on a chat, SMS or WhatsApp channel.

Inside the workflow the message is available as `trigger.text`, `trigger.channel`,
`trigger.conversationId` and so on. `channels` is documented but not applied yet: every message
starts the workflow, whatever its channel (issue 11 applies trigger filters).
"""

from typing import Literal

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind

Channel = Literal["chat", "sms", "whatsapp", "email", "voice", "api"]


class Config(NodeConfig):
    channels: list[Channel] = []


@node_kind("trigger.incoming_message", labels=("Incoming Message",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"channel": ctx.trigger_payload.get("channel")})
