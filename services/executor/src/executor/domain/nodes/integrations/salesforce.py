"""Salesforce: leads, contacts and cases in the tenant's CRM.

Actions: `createLead`, `updateLead` (leadId), `getContact` (contactId), `createCase`, `query`
(soql). The result is stored in `workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"updateLead": ("leadId",), "getContact": ("contactId",), "query": ("soql",)}

    action: Literal["createLead", "updateLead", "getContact", "createCase", "query"] = "createLead"


@node_kind(
    "integration.salesforce",
    labels=("Salesforce",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "salesforce")
