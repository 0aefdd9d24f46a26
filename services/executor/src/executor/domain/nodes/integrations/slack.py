"""Slack: posts `text` to a Slack `channel` of the tenant's workspace (through the notifier).

Action: `postMessage` (channel: an id, a `#name` or a user id; text; optional `blocks`, Block
Kit; `threadTs` to reply in a thread, `replyBroadcast`). The result (`{ts, channel}`: pass
them as `threadTs` and `channel` to reply in the thread) may be stored in
`workflow.<outputVariable>`. Slack's refusals are typed errors (`NotPermitted` for
not_in_channel or is_archived, `InvalidRecipient`, `AuthenticationFailed`, `RateLimited`,
`ProviderUnavailable`) an error edge can route on."""

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
