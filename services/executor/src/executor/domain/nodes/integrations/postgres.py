"""Postgres: runs a parameterised SQL statement on the tenant's database.

Action: `query` (query with `$1`-style placeholders, `params` a list, each item interpolated).
Values are always passed as parameters, never spliced into the SQL: `query` is not
interpolated, and one holding `{{...}}` is refused when the workflow is validated. The
answer `{rows, rowCount, columns, truncated}` is stored in `workflow.<outputVariable>`; rows
are objects by column (numeric as exact strings, timestamps ISO 8601). The connection says
whether the statement may write (`read_only`, the default: it may not), its timeout and the
most rows returned."""

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from executor.domain.nodes.contract import EffectTarget, NodeContext, NodeOutcome, node_kind
from executor.domain.nodes.integration_call import IntegrationConfig, call_integration


class Config(IntegrationConfig):
    required_params = {"query": ("query",)}
    raw_fields: ClassVar[frozenset[str]] = frozenset({"query"})

    action: Literal["query"] = "query"

    @model_validator(mode="after")
    def _values_as_params(self) -> "Config":
        query: Any = self.params.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be an SQL statement")
        if "{{" in query:
            raise ValueError(
                "query is not interpolated: put values in params and refer to them as $1, $2"
            )
        params = self.params.get("params")
        if params is not None and not isinstance(params, list):
            raise ValueError("params must be a list (bound to $1, $2, ...)")
        return self


@node_kind(
    "integration.postgres",
    labels=("Postgres", "PostgreSQL"),
    effect=EffectTarget.INTEGRATIONS,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return call_integration(ctx, config, "postgres")
