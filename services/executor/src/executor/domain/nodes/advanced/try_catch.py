"""Try/Catch: runs the `try` branch; if any node in it fails, runs the `catch` branch instead.

A failing node inside the branch (in a loop inside it too) that has no `error` edge of its own
stops the whole `try` branch: its other paths are cancelled, the error
`{nodeId, label, message, code}` is stored in `workflow.<errorVariable>` and `catch` starts.
Failures in the `catch` branch go to the next enclosing Try/Catch, or fail the execution.
Unlabeled edges are the `try` branch.
"""

from executor.domain.nodes.contract import (
    Control,
    NodeConfig,
    NodeContext,
    NodeOutcome,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName


class Config(NodeConfig):
    errorVariable: VariableName = "error"

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.errorVariable}",)


@node_kind(
    "advanced.try_catch",
    labels=("Try/Catch", "Try Catch", "Error Handler"),
    ports=("try", "catch"),
    control=Control.TRY,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    error = (ctx.frame or {}).get("error")
    if error is None:
        return NodeOutcome(port="try")
    ctx.set(f"workflow.{config.errorVariable}", error)
    return NodeOutcome(port="catch", output={"error": error})
