"""Condition: routes the path to `yes` or `no`.

`condition` is either the builder's structured form (`left`, `operator`, `right`, chained with
`logicalOp` AND/OR and `next`) or an expression string (`customer.orders.size() > 5`).
Outgoing edges are matched by label, case-insensitive: `yes`/`true` and `no`/`false`.
A condition that cannot be evaluated fails the node, unless `default` names the branch to take;
declaring `default` also allows wiring only one branch (the other one then ends the path).
Any node whose builder type is `condition` is a Condition, whatever its label.
"""

from typing import Literal

from pydantic import model_validator

from executor.domain.expressions import ConditionError
from executor.domain.nodes.condition_field import CompiledCondition
from executor.domain.nodes.contract import (
    NodeConfig,
    NodeContext,
    NodeFailed,
    NodeOutcome,
    node_kind,
)


class Config(NodeConfig):
    raw_fields = frozenset({"condition", "expression"})

    condition: CompiledCondition | None = None
    expression: CompiledCondition | None = None
    default: Literal["yes", "no"] | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> "Config":
        if (self.condition is None) == (self.expression is None):
            raise ValueError("set exactly one of condition or expression")
        return self

    @property
    def test(self) -> CompiledCondition:
        test = self.condition if self.condition is not None else self.expression
        assert test is not None
        return test

    def read_paths(self) -> tuple[str, ...]:
        return tuple(self.test.paths)


@node_kind("logic.condition", labels=("Condition", "If/Else", "If"), ports=("yes", "no"))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    try:
        result = config.test.evaluate(ctx.context)
    except ConditionError as error:
        if config.default is None:
            raise NodeFailed(f"condition cannot be evaluated: {error}", code="condition") from error
        return NodeOutcome(port=config.default, output={"result": None, "error": str(error)})
    return NodeOutcome(port="yes" if result else "no", output={"result": result})
