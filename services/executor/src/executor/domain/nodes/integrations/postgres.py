"""Postgres: runs a parameterised SQL statement on the tenant's database.

Action: `query` (query with `$1`-style placeholders, `params` a list). Values are always
passed as parameters, never spliced into the SQL. The rows are stored in
`workflow.<outputVariable>`."""

from typing import Literal

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"query": ("query",)}

    action: Literal["query"] = "query"


@node_kind(
    "integration.postgres",
    labels=("Postgres", "PostgreSQL"),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "postgres")
