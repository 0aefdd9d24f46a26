"""Incoming Call: starts the workflow when a phone call comes in.

The caller is `trigger.from`, the dialled number `trigger.to`, the call `trigger.callId`. With
`phoneNumberIds` set, only a call to one of those numbers (`trigger.phoneNumberId`, else the
dialled number `trigger.to`) starts the workflow (empty: every number).
"""

from collections.abc import Mapping
from typing import Any

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    phoneNumberIds: list[str] = []


@node_kind("trigger.incoming_call", labels=("Incoming Call",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"from": ctx.trigger_payload.get("from")})


def admits(config: Config, trigger: Mapping[str, Any]) -> str | None:
    """Why a call does not start the workflow, or None when it does."""
    number = trigger.get("phoneNumberId") or trigger.get("to")
    if config.phoneNumberIds and number not in config.phoneNumberIds:
        return f"number {number!r} is not one of {config.phoneNumberIds}"
    return None
