"""What every integration node shares: the request it makes and where its result goes.

An integration node names an `action` of its vendor; every other config field is a parameter of
that action (interpolated), checked against the action's required parameters. Credentials never
appear here: the integrations service resolves them for the tenant.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import ConfigDict, model_validator

from executor.domain.nodes.contract import EffectConfig, NodeContext, NodeOutcome
from executor.domain.nodes.variable_path import VariableName


class IntegrationConfig(EffectConfig):
    model_config = ConfigDict(extra="allow", arbitrary_types_allowed=True, frozen=True)

    # action -> parameters it cannot do without; set by each vendor.
    required_params: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    action: str
    outputVariable: VariableName | None = None
    # the tenant's connection to use, by id or name; else the workflow's, else the default
    connection: str | None = None

    @model_validator(mode="after")
    def _required(self) -> "IntegrationConfig":
        missing = [p for p in self.required_params.get(self.action, ()) if p not in self.params]
        if missing:
            raise ValueError(f"{self.action} needs {', '.join(missing)}")
        return self

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",) if self.outputVariable else ()


def call_integration(ctx: NodeContext, config: IntegrationConfig, integration: str) -> NodeOutcome:
    """Request `config.action` from `integration`; store its result in the output variable."""
    if ctx.delivered is None:
        return ctx.request(
            {
                "integration": integration,
                "action": config.action,
                "params": config.params,
                "outputVariable": config.outputVariable,
                **({"connection": config.connection} if config.connection else {}),
            }
        )
    if config.outputVariable:
        ctx.store_result(config.outputVariable, ctx.delivered)
    return NodeOutcome(output=ctx.delivered)
