"""The compiled workflows, one per immutable version: compiled once, kept for the process."""

from __future__ import annotations

import json

from executor.adapters.store import WorkflowCatalogue
from executor.runtime import engine_port


class CompiledWorkflows:
    def __init__(self, catalogue: WorkflowCatalogue) -> None:
        self._catalogue = catalogue
        self._compiled: dict[tuple[str, int], engine_port.CompiledWorkflow] = {}
        self._reads_global: dict[tuple[str, int], bool] = {}

    async def reads_global(self, workflow_id: str, version: int) -> bool:
        """Whether the version may read the tenant's variables (``global.*``): conservative,
        from its definition's text, once per version. A trigger for workflows that do not
        reads none (one MongoDB read fewer per batch)."""
        key = (workflow_id, version)
        known = self._reads_global.get(key)
        if known is None:
            text = json.dumps(await self._catalogue.definition(workflow_id, version))
            known = self._reads_global[key] = "global" in text
        return known

    async def get(self, workflow_id: str, version: int) -> engine_port.CompiledWorkflow:
        key = (workflow_id, version)
        compiled = self._compiled.get(key)
        if compiled is None:
            definition = await self._catalogue.definition(workflow_id, version)
            compiled = self._compiled[key] = engine_port.compile_workflow(definition)
        return compiled
