"""Incoming Message: starts the workflow when a customer writes on a chat, SMS or WhatsApp channel.

Inside the workflow the message is available as `trigger.text`, `trigger.channel`,
`trigger.conversationId` and so on. With `channels` set, only a message on one of them starts
the workflow (empty: every channel).

`whileRunning` says what a message does when the conversation already has a run of this
workflow (per conversation, in the order the messages came):
`queue` (default): a run waiting for a reply gets it; a busy run gets it at its next Wait for
Reply, or, if it ends first, the message starts the next run; `resume`: a waiting run gets it,
while a busy run it starts another; `interrupt`: the run is cancelled and the message starts
a new one; `parallel`: every message starts a run of its own. Messages queued for a run that
came within `burstSeconds` of each other (default 3) reach it as one reply: their texts
joined by new lines, each in `messages`.

`whileWithAgent` says what a message does while an agent has the conversation (assigned or
taken over, until it is returned to the bot or closed): `pause` (default) starts and resumes
nothing: the message is in the conversation for the agent; `run`: it is routed as usual.
"""

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind

Channel = Literal["chat", "sms", "whatsapp", "email", "voice", "api"]
WhileRunning = Literal["queue", "resume", "interrupt", "parallel"]


class Config(NodeConfig):
    channels: list[Channel] = []
    whileRunning: WhileRunning = "queue"
    whileWithAgent: Literal["pause", "run"] = "pause"
    burstSeconds: float = Field(default=3.0, ge=0, le=300)


@node_kind("trigger.incoming_message", labels=("Incoming Message",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"channel": ctx.trigger_payload.get("channel")})


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a message does not start the workflow, or None when it does."""
    if config.channels and trigger.get("channel") not in config.channels:
        return f"channel {trigger.get('channel')!r} is not one of {config.channels}"
    return None
