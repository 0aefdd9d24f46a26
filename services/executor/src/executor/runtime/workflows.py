"""The compiled workflows, one per immutable version: compiled once, kept for the process."""

from __future__ import annotations

from executor.adapters.store import WorkflowCatalogue
from executor.runtime import engine_port


class CompiledWorkflows:
    def __init__(self, catalogue: WorkflowCatalogue) -> None:
        self._catalogue = catalogue
        self._compiled: dict[tuple[str, int], engine_port.CompiledWorkflow] = {}

    async def get(self, workflow_id: str, version: int) -> engine_port.CompiledWorkflow:
        key = (workflow_id, version)
        compiled = self._compiled.get(key)
        if compiled is None:
            definition = await self._catalogue.definition(workflow_id, version)
            compiled = self._compiled[key] = engine_port.compile_workflow(definition)
        return compiled
