"""Teams: posts `text` to a Microsoft Teams channel (through the notifier).

Action: `postMessage` (text; optional `title` and `facts`, `{name: value}`, rendered as one
Adaptive Card; `webhook`: the name of one of the tenant's incoming webhooks, else its
default). The result (`{webhook, status}`) may be stored in `workflow.<outputVariable>`;
a removed webhook is `InvalidRecipient`, a payload Teams refuses `InvalidMessage`."""

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
