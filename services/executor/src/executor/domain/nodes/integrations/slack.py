"""Slack: posts `text` to a Slack `channel` of the tenant's workspace (through the notifier).

Action: `postMessage` (channel, text). The result (`{ts}`) may be stored in
`workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"postMessage": ("channel", "text")}

    action: Literal["postMessage"] = "postMessage"


@node_kind(
    "integration.slack",
    labels=("Slack",),
    effect=EffectTarget.NOTIFIER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "slack")
