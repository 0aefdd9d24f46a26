"""Sub-workflows: a child execution is inserted when its parent asks for it and started by a
command sent after the parent's write (docs/architecture.md, *Sub-workflows*)."""

from __future__ import annotations

from typing import Any

from contracts.events import EffectSettled, ExecutionRequested

from executor.adapters.execution_documents import child_trigger_text, new_execution
from executor.adapters.store import ExecutionRepository, WorkflowCatalogue
from executor.runtime.effects import StartChild
from executor.runtime.outbox import command_entry, trace_of

Document = dict[str, Any]


class JustCreated:
    """Executions this process just created: their start command needs no read. Nobody else
    can have written them yet, and if that ever happens the version check catches it. Bounded:
    a start that never comes (a crash) leaves no growth behind."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}

    def remember(self, doc: Document) -> None:
        if len(self._docs) >= self.LIMIT:
            self._docs.pop(next(iter(self._docs)))
        self._docs[doc["_id"]] = doc

    def take(self, execution_id: str) -> Document | None:
        return self._docs.pop(execution_id, None)

    def __contains__(self, execution_id: str) -> bool:
        return execution_id in self._docs


class ChildStart:
    def __init__(
        self,
        catalogue: WorkflowCatalogue,
        executions: ExecutionRepository,
        just_created: JustCreated,
    ) -> None:
        self._catalogue = catalogue
        self._executions = executions
        self._just_created = just_created

    async def start(self, parent: Document, action: StartChild) -> Document:
        """Insert the child now; what to send after the parent is written is returned: its
        start command, or the parent's answer that there is no such workflow."""
        workflow = await self._catalogue.workflow(parent["tenant_id"], action.workflow_id)
        version = (
            None
            if workflow is None
            else workflow.get("active_version") or workflow.get("latest_version")
        )
        if workflow is None or version is None:
            return command_entry(_not_found(parent, action), trace_of(parent))
        child = new_execution(
            execution_id=action.child_id,
            tenant_id=parent["tenant_id"],
            workflow=workflow,
            version=int(version),  # pinned to the version current when the child starts
            trigger_id=f"{parent['trigger_id']}>{action.child_id}",
            trigger_json=child_trigger_text(parent, action.input),
            conversation_id=parent.get("conversation_id"),
            channel=parent.get("channel"),
            depth=action.depth,
            parent={
                "execution_id": parent["_id"],
                "effect_id": action.parent_effect_id,
                "wait": action.wait,
            },
        )
        if await self._executions.create(child):
            self._just_created.remember(child)
        start = ExecutionRequested(
            command_id=f"start:{action.child_id}",
            execution_id=action.child_id,
            tenant_id=parent["tenant_id"],
        )
        return command_entry(start, trace_of(parent))


def _not_found(parent: Document, action: StartChild) -> EffectSettled:
    return EffectSettled(
        command_id=f"child-missing:{action.child_id}",
        execution_id=parent["_id"],
        tenant_id=parent["tenant_id"],
        effect_id=action.parent_effect_id,
        idempotency_key=f"{parent['_id']}:{action.parent_effect_id}",
        error={
            "type": "SubWorkflowNotFound",
            "message": f"no workflow {action.workflow_id} for this tenant",
        },
    )
