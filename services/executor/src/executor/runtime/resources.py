"""A workflow's resources when an execution starts (the product guide's context
initialisation): the documents, phone numbers and AI configuration the tenant attached to it
(``/v1/workflow-resources``), merged with the workflow's own configuration nodes (a Knowledge
Base node's documents are added, an AI Configuration node's settings win over the attached
configuration's, its ``aiConfigId`` names one).

Loaded once per (workflow, version, ``resources_revision``): the gateway increments the
workflow's ``resources_revision`` whenever an attachment changes or an attached document or AI
configuration is updated, and the executor reads it with the active workflows, so a cached
load is never stale for what is attached. A configuration named only by an AI Configuration
node is read again after ``ttl`` seconds. A workflow with neither reads nothing."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Protocol

from contracts.ai import AIConfigSpec

Document = dict[str, Any]
TTL_SECONDS = 60.0
MAX_CACHED = 10_000


class ResourceSource(Protocol):
    async def attached(self, tenant_id: str, workflow_id: str) -> Document | None: ...

    async def ai_config(self, tenant_id: str, config_id: str) -> Document | None: ...

    async def documents(self, tenant_id: str, ids: list[str]) -> list[Document]: ...

    async def phone_numbers(self, tenant_id: str, number_ids: list[str]) -> list[Document]: ...


class WorkflowResources:
    def __init__(self, source: ResourceSource | None, *, ttl: float = TTL_SECONDS) -> None:
        self._source = source
        self._ttl = ttl
        self._cache: dict[tuple[str, int, int], tuple[float, Document]] = {}

    async def of(
        self, tenant_id: str, workflow: Mapping[str, Any], own: Mapping[str, Any]
    ) -> Document:
        """``resources`` for an execution of ``workflow`` (its document from the active
        workflows), ``own``: its compiled configuration nodes' resources. Empty when nothing
        is attached and no node names an AI configuration (the nodes' own are then placed
        by the interpreter)."""
        revision = int(workflow.get("resources_revision") or 0)
        named = (own.get("aiConfig") or {}).get("aiConfigId")
        if self._source is None or (revision == 0 and not named):
            return {}
        key = (str(workflow["_id"]), int(workflow.get("active_version") or 0), revision)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and (not named or now - cached[0] < self._ttl):
            return cached[1]
        loaded = await self._load(tenant_id, str(workflow["_id"]), own, revision)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[key] = (now, loaded)
        return loaded

    async def _load(
        self, tenant_id: str, workflow_id: str, own: Mapping[str, Any], revision: int
    ) -> Document:
        assert self._source is not None
        attached = (await self._source.attached(tenant_id, workflow_id) or {}) if revision else {}
        document_ids = list(attached.get("document_ids") or [])
        documents = await self._source.documents(tenant_id, document_ids)
        numbers = await self._source.phone_numbers(
            tenant_id, list(attached.get("phone_number_ids") or [])
        )
        node_ai = dict(own.get("aiConfig") or {})
        config_id = node_ai.pop("aiConfigId", None) or attached.get("ai_config_id")
        resources: Document = {
            "documents": [
                {"id": d["_id"], "title": d.get("title"), "format": d.get("format")}
                for d in documents
            ],
            "phoneNumbers": [
                {"id": n.get("number_id"), "phoneNumber": n["_id"], "name": n.get("name")}
                for n in numbers
            ],
        }
        own_documents = list((own.get("knowledgeBase") or {}).get("documentIds") or [])
        known = [d["_id"] for d in documents]
        resources["knowledgeBase"] = {"documentIds": list(dict.fromkeys(known + own_documents))}
        if config_id:
            stored = await self._source.ai_config(tenant_id, str(config_id))
            if stored is not None:
                resources["aiConfig"] = {**ai_config_view(stored), **node_ai}
        if "aiConfig" not in resources and node_ai:
            resources["aiConfig"] = node_ai
        return resources


def ai_config_view(stored: Mapping[str, Any]) -> Document:
    """A stored AI configuration as ``resources.aiConfig`` shows it."""
    fields = {k: stored[k] for k in AIConfigSpec.model_fields if k in stored}
    return AIConfigSpec.model_validate(fields).workflow_view(str(stored["_id"]))
