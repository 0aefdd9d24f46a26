"""Teams: posts `text` to a Microsoft Teams channel (through the notifier).

Action: `postMessage` (text, optional channel or webhookId)."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"postMessage": ("text",)}

    action: Literal["postMessage"] = "postMessage"


@node_kind(
    "integration.teams",
    labels=("Teams", "Microsoft Teams"),
    effect=EffectTarget.NOTIFIER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "teams")
