"""HubSpot: contacts, deals and tickets, through HubSpot's CRM v3 objects API.

Actions: `createContact` (email, firstname, lastname, phone, ...: HubSpot's property names, as
parameters or in `properties`); `updateContact` (contactId; properties); `getContact`
(contactId, or an email with `idProperty: email`; `properties` to read); `createDeal`
(dealname; amount, dealstage, closedate; contactId to associate it with); `createTicket`
(subject; content, hs_pipeline_stage, hs_ticket_priority; contactId). The result is HubSpot's
object (`{id, properties, ...}`), stored in `workflow.<outputVariable>`. A second create of a
contact's email is `Conflict`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "updateContact": ("contactId",),
        "getContact": ("contactId",),
        "createDeal": ("dealname",),
        "createTicket": ("subject",),
    }

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
