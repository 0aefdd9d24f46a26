"""Execute Workflow: runs another workflow of the tenant as a sub-workflow.

`workflowId` names it; `input` (interpolated) becomes the child's `workflow` variables. With
`waitForCompletion` (the default) this path waits for the child to finish and stores the child's
`workflow` variables in `workflow.<outputVariable>`; otherwise it continues once the child started.
"""

from typing import Any

from pydantic import Field

from executor.domain.nodes.contract import (
    EffectConfig,
    EffectTarget,
    NodeContext,
    NodeOutcome,
    node_kind,
)
from executor.domain.nodes.variable_path import VariableName


class Config(EffectConfig):
    workflowId: str = Field(min_length=1)
    input: dict[str, Any] = {}
    waitForCompletion: bool = True
    outputVariable: VariableName | None = None

    def produced_paths(self) -> tuple[str, ...]:
        return (f"workflow.{self.outputVariable}",) if self.outputVariable else ()


@node_kind(
    "advanced.execute_workflow",
    labels=("Execute Workflow", "Sub-workflow", "Run Workflow"),
    effect=EffectTarget.EXECUTOR,
)
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    if ctx.delivered is None:
        return ctx.request(
            {
                "workflowId": config.workflowId,
                "input": config.input,
                "waitForCompletion": config.waitForCompletion,
                "parentExecutionId": ctx.execution.get("id"),
            }
        )
    if config.outputVariable:
        ctx.store_result(config.outputVariable, ctx.delivered)
    return NodeOutcome(output=ctx.delivered)
