"""Zendesk: support tickets and their requesters, through Zendesk's Support API.

Actions: `createTicket` (subject; body: the first comment, public; priority, status, type,
tags, requesterEmail, requesterName, externalId), made once however often the node is retried;
`getTicket` (ticketId); `updateTicket` (ticketId; status, priority, type, subject, tags,
assigneeId, body: a comment with the change); `addComment` (ticketId, body; public); `getUser`
(userId or email). The result (Zendesk's ticket or user) is stored in
`workflow.<outputVariable>`."""

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

    action: Literal["createTicket", "getTicket", "updateTicket", "addComment", "getUser"] = (
        "createTicket"
    )


@node_kind(
    "integration.zendesk",
    labels=("Zendesk",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "zendesk")
