"""The I/O around ``step.apply``: create executions from triggers, apply commands durably."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.events import EffectSettled, ExecutionRequested, TriggerReceived

from executor.adapters.store import ExecutionRepository, WorkflowCatalog
from executor.runtime import engine
from executor.runtime.step import SOURCE, apply, outbox_entry
from executor.telemetry import context_from, current_traceparent, record_node_spans, tracer

Document = dict[str, Any]
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]


def execution_id_for(trigger_id: str, workflow_id: str) -> str:
    """Deterministic, so a redelivered trigger finds the execution it created before."""
    digest = hashlib.sha256(f"{trigger_id}|{workflow_id}".encode()).hexdigest()
    return "exe_" + digest[:24]


def _now() -> datetime:
    return datetime.now(UTC)


class ExecutionService:
    def __init__(
        self,
        catalog: WorkflowCatalog,
        executions: ExecutionRepository,
        publish: Publish,
        *,
        max_steps: int,
    ) -> None:
        self._catalog = catalog
        self._executions = executions
        self._publish = publish
        self._max_steps = max_steps
        self._compiled: dict[tuple[str, int], engine.CompiledWorkflow] = {}

    async def on_trigger(self, envelope: Envelope[TriggerReceived]) -> None:
        """Create one execution per active workflow of the trigger's type, then request it."""
        trigger = envelope.data
        for workflow in await self._catalog.active_for(trigger.tenant_id, trigger.trigger_type):
            execution_id = execution_id_for(trigger.trigger_id, workflow["_id"])
            await self._executions.create(
                {
                    "_id": execution_id,
                    "tenant_id": trigger.tenant_id,
                    "workflow_id": workflow["_id"],
                    "workflow_version": int(workflow["active_version"]),
                    "trigger_id": trigger.trigger_id,
                    "trigger_type": trigger.trigger_type,
                    "conversation_id": trigger.conversation_id,
                    "channel": trigger.channel,
                    # JSON text: payload keys may hold '.' or '$' (see docs/architecture.md).
                    "trigger_json": trigger.model_dump_json(include={"payload", "customer"}),
                    "status": "created",
                    "created_at": _now(),
                    "started_at": None,
                    "state_json": None,
                    "version": 0,
                    "outbox": [],
                }
            )
            # Published even when the execution already existed: the earlier attempt may
            # have died before publishing, and a duplicate start changes nothing.
            command = ExecutionRequested(
                command_id=f"start:{execution_id}",
                execution_id=execution_id,
                tenant_id=trigger.tenant_id,
            )
            out = Envelope.wrap(
                command,
                source=SOURCE,
                tenant_id=trigger.tenant_id,
                traceparent=envelope.traceparent,
            )
            await self._send(outbox_entry(topics.EXECUTION_COMMANDS, execution_id, out))

    async def on_command(self, envelope: Envelope[ExecutionRequested | EffectSettled]) -> None:
        """Apply one command: node runs, then the execution (conditional on its version),
        then the outbox. A redelivered command re-publishes the outbox and changes nothing."""
        command = envelope.data
        doc = await self._executions.get(command.execution_id)
        if doc is None:
            raise LookupError(f"no execution {command.execution_id}")
        if doc.get("last_command_id") == command.command_id:
            await self._publish_outbox(doc)  # we may have died before publishing it
            return
        if doc["status"] in ("completed", "failed", "cancelled"):
            return
        workflow = await self._compiled_workflow(doc["workflow_id"], int(doc["workflow_version"]))
        with tracer.start_as_current_span(
            f"execute {doc['workflow_id']}",
            context=context_from(envelope.traceparent),
            attributes={"execution.id": doc["_id"], "command.type": command.event_type},
        ):
            applied = await apply(
                doc,
                workflow,
                command,
                now=_now,
                max_steps=self._max_steps,
                traceparent=current_traceparent(),
            )
            record_node_spans(applied.node_runs)
            if not applied.changed:
                return
            await self._executions.record_node_runs(applied.node_runs)
            await self._executions.save(applied.doc, expected_version=int(doc["version"]))
            await self._publish_outbox(applied.doc)

    async def _compiled_workflow(self, workflow_id: str, version: int) -> engine.CompiledWorkflow:
        key = (workflow_id, version)
        compiled = self._compiled.get(key)
        if compiled is None:
            definition = await self._catalog.definition(workflow_id, version)
            compiled = self._compiled[key] = engine.compile_workflow(definition)
        return compiled

    async def _publish_outbox(self, doc: Document) -> None:
        for entry in doc.get("outbox", []):
            await self._send(entry)

    async def _send(self, entry: Document) -> None:
        await self._publish(
            entry["value"].encode(), entry["topic"], entry["key"].encode(), entry["headers"]
        )
