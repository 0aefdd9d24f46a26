"""Odoo: searches, reads, creates and updates records of the tenant's Odoo (ERP).

Actions: `searchRecords` (model; domain, a list of `[field, operator, value]` leaves, all records
when none; fields, limit (80, at most 500), offset, order) -> `{records, count}`; `getRecord`
(model, recordId; fields) -> the record (NotFound when it does not exist); `createRecord`
(model, values) -> `{id}`; `updateRecord` (model, recordId, values) -> `{id, updated}`.
Many2one fields read as `[id, name]`. Odoo takes no idempotency key: a create whose answer
was lost may have been made. The result is stored in `workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {
        "searchRecords": ("model",),
        "getRecord": ("model", "recordId"),
        "createRecord": ("model", "values"),
        "updateRecord": ("model", "recordId", "values"),
    }

    action: Literal["searchRecords", "getRecord", "createRecord", "updateRecord"] = "searchRecords"


@node_kind(
    "integration.odoo",
    labels=("Odoo",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "odoo")
