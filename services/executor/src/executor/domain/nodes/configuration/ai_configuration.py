"""AI Configuration: the model, persona and temperature used by AI nodes of this workflow.

A configuration node needs no edges: when the workflow starts, its settings are placed in
`resources.aiConfig`; reached through an edge it passes straight through.
"""

from typing import Any

from pydantic import Field

from executor.domain.nodes.contract import NodeContext, NodeOutcome, ResourceConfig, node_kind


class Config(ResourceConfig):
    aiConfigId: str | None = None
    model: str | None = None
    systemPrompt: str | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)

    def resource(self) -> tuple[str, dict[str, Any]]:
        return "aiConfig", self.model_dump(exclude_none=True, exclude={"description", "notes"})


@node_kind("config.ai_configuration", labels=("AI Configuration", "AI Config"))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output=config.resource()[1])
