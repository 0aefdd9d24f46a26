"""HubSpot: contacts, deals and tickets.

Actions: `createContact`, `updateContact` (contactId), `getContact` (contactId), `createDeal`,
`createTicket`. The result is stored in `workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"updateContact": ("contactId",), "getContact": ("contactId",)}

    action: Literal[
        "createContact", "updateContact", "getContact", "createDeal", "createTicket"
    ] = "createContact"


@node_kind(
    "integration.hubspot",
    labels=("HubSpot",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "hubspot")
