"""Knowledge Base: the documents AI nodes of this workflow answer from.

A configuration node needs no edges: when the workflow starts, its settings are placed in
`resources.knowledgeBase`; reached through an edge it passes straight through.
"""

from typing import Any

from executor.domain.nodes.contract import NodeContext, NodeOutcome, ResourceConfig, node_kind


class Config(ResourceConfig):
    documentIds: list[str] = []

    def resource(self) -> tuple[str, dict[str, Any]]:
        return "knowledgeBase", {"documentIds": list(self.documentIds)}


@node_kind("config.knowledge_base", labels=("Knowledge Base",))
async def execute(ctx: NodeContext, config: Config) -> NodeOutcome:
    return NodeOutcome(output={"documentIds": list(config.documentIds)})
