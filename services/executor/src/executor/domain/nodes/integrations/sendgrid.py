"""SendGrid: sends an email with the tenant's own SendGrid account (through the notifier).

Actions: `sendEmail` (to, subject, body), `sendTemplate` (to, templateId, templateData). Prefer
Send Email unless the tenant needs its own sender."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"sendEmail": ("to",), "sendTemplate": ("to", "templateId")}

    action: Literal["sendEmail", "sendTemplate"] = "sendEmail"


@node_kind(
    "integration.sendgrid",
    labels=("SendGrid",),
    effect=EffectTarget.NOTIFIER,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "sendgrid")
