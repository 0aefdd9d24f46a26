"""Odoo: searches, reads, creates and updates records of the tenant's Odoo (ERP).

Actions: `searchRecords` (model, domain), `getRecord` (model, recordId), `createRecord` (model,
values), `updateRecord` (model, recordId, values). The result is stored in
`workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "searchRecords": ("model",),
        "getRecord": ("model", "recordId"),
        "createRecord": ("model",),
        "updateRecord": ("model", "recordId"),
    }

    action: Literal["searchRecords", "getRecord", "createRecord", "updateRecord"] = "searchRecords"


@node_kind(
    "integration.odoo",
    labels=("Odoo",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "odoo")
