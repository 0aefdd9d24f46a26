"""Twilio SMS: sends an SMS `body` to the number `to` (through the notifier).

Action: `sendSms` (to, body, optional from). The result (`{sid, status}`) may be stored in
`workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"sendSms": ("to", "body")}

    action: Literal["sendSms"] = "sendSms"


@node_kind(
    "integration.twilio_sms",
    labels=("Twilio SMS", "SMS"),
    effect=EffectTarget.NOTIFIER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "twilio")
