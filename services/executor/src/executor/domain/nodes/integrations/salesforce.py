"""Salesforce: leads, contacts and cases in the tenant's CRM, through Salesforce's REST API.

Actions: `createLead` (Salesforce's field names: LastName and Company required; FirstName,
Email, Phone, LeadSource, ...; or a `fields` object) -> `{id, success}`; `updateLead` (leadId;
fields) -> `{id, updated}`; `getContact` (contactId; fields to read) -> the contact;
`createCase` (Subject, Description, Priority, Origin, ContactId, SuppliedEmail, ...) -> `{id,
success}`; `query` (soql; bindings; maxRecords, 2000) -> `{totalSize, done, records}`.
Values reach SOQL only as `:name` bindings (`bindings: {"email": "{{customer.email}}"}`), each
made a SOQL literal with Salesforce's escapes: `soql` itself is not interpolated, and one
holding `{{...}}` is refused when the workflow is validated. Salesforce takes no idempotency
key: a retried create may make a second record. The result is stored in
`workflow.<outputVariable>`."""

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"updateLead": ("leadId",), "getContact": ("contactId",), "query": ("soql",)}
    raw_fields: ClassVar[frozenset[str]] = frozenset({"soql"})

    action: Literal["createLead", "updateLead", "getContact", "createCase", "query"] = "createLead"

    @model_validator(mode="after")
    def _values_as_bindings(self) -> "Config":
        soql: Any = self.params.get("soql")
        if soql is None:
            return self
        if not isinstance(soql, str) or not soql.strip():
            raise ValueError("soql must be a SOQL query")
        if "{{" in soql:
            raise ValueError(
                "soql is not interpolated: put values in bindings and refer to them as :name"
            )
        bindings = self.params.get("bindings")
        if bindings is not None and not isinstance(bindings, dict):
            raise ValueError("bindings must be an object (each bound to :name in soql)")
        return self


@node_kind(
    "integration.salesforce",
    labels=("Salesforce",),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "salesforce")
