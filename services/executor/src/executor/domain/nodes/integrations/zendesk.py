"""Zendesk: creates and updates support tickets.

Actions: `createTicket` (subject), `getTicket` (ticketId), `updateTicket` (ticketId),
`addComment` (ticketId, body). The result is stored in `workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "createTicket": ("subject",),
        "getTicket": ("ticketId",),
        "updateTicket": ("ticketId",),
        "addComment": ("ticketId", "body"),
    }

    action: Literal["createTicket", "getTicket", "updateTicket", "addComment"] = "createTicket"


@node_kind(
    "integration.zendesk",
    labels=("Zendesk",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "zendesk")
