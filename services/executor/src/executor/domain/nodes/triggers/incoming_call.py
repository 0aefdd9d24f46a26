"""Incoming Call: starts the workflow when a phone call comes in.

The caller is `trigger.from`, the dialled number `trigger.to`, the call `trigger.callId`.
`phoneNumberIds` is documented but not applied yet: every call starts the workflow, whatever
number was dialled (issue 11 applies trigger filters).
"""

from executor.domain.nodes.contract import NodeConfig, NodeContext, NodeOutcome, node_kind


class Config(NodeConfig):
    phoneNumberIds: list[str] = []


@node_kind("trigger.incoming_call", labels=("Incoming Call",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"from": ctx.trigger_payload.get("from")})
