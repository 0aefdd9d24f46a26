"""The I/O around ``step.apply``: create executions from triggers, apply commands durably."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.delivery import Permanent
from contracts.events import EffectSettled, Event, ExecutionRequested, TriggerReceived

from executor.adapters.store import ExecutionRepository, ReplyWaitRepository, WorkflowCatalog
from executor.runtime import engine
from executor.runtime.effects import AwaitReply, ReleaseReplies, StartChild
from executor.runtime.outbox import SOURCE, outbox_entry
from executor.runtime.step import Action, Command, Limits, apply
from executor.telemetry import context_from, current_traceparent, record_node_spans, tracer

Document = dict[str, Any]
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]
INCOMING_MESSAGE = "Incoming Message"


def execution_id_for(trigger_id: str, workflow_id: str) -> str:
    """Deterministic, so a redelivered trigger finds the execution it created before."""
    digest = hashlib.sha256(f"{trigger_id}|{workflow_id}".encode()).hexdigest()
    return "exe_" + digest[:24]


def _now() -> datetime:
    return datetime.now(UTC)


def new_execution(
    *,
    execution_id: str,
    tenant_id: str,
    workflow: Document,
    version: int,
    trigger_id: str,
    trigger_json: str,
    conversation_id: str | None,
    channel: str | None,
    **extra: Any,
) -> Document:
    return {
        "_id": execution_id,
        "tenant_id": tenant_id,
        "workflow_id": workflow["_id"],
        "workflow_version": version,
        "trigger_id": trigger_id,
        "trigger_type": workflow["trigger_type"],
        "conversation_id": conversation_id,
        "channel": channel,
        # JSON text: payload keys may hold '.' or '$' (see docs/architecture.md).
        "trigger_json": trigger_json,
        "status": "created",
        "created_at": _now(),
        "started_at": None,
        "state_json": None,
        "total_nodes": 0,
        "executed_nodes": 0,
        "failed_nodes": 0,
        "version": 0,
        "outbox": [],
        **extra,
    }


class ExecutionService:
    def __init__(
        self,
        catalog: WorkflowCatalog,
        executions: ExecutionRepository,
        reply_waits: ReplyWaitRepository,
        publish: Publish,
        *,
        limits: Limits,
    ) -> None:
        self._catalog = catalog
        self._executions = executions
        self._reply_waits = reply_waits
        self._publish = publish
        self._limits = limits
        self._compiled: dict[tuple[str, int], engine.CompiledWorkflow] = {}
        self._just_created: dict[str, Document] = {}

    async def on_trigger(self, envelope: Envelope[TriggerReceived]) -> None:
        """A customer's message first answers executions waiting for it (Wait for Reply);
        otherwise, one execution per active workflow of the trigger's type is created."""
        trigger = envelope.data
        if trigger.conversation_id and trigger.trigger_type == INCOMING_MESSAGE:
            waits = await self._reply_waits.for_conversation(
                trigger.tenant_id, trigger.conversation_id
            )
            if waits:
                await self._answer_waits(trigger, waits, envelope.traceparent)
                return
        trigger_json = trigger.model_dump_json(include={"payload", "customer"})
        for workflow in await self._catalog.active_for(trigger.tenant_id, trigger.trigger_type):
            execution_id = execution_id_for(trigger.trigger_id, workflow["_id"])
            doc = new_execution(
                execution_id=execution_id,
                tenant_id=trigger.tenant_id,
                workflow=workflow,
                version=int(workflow["active_version"]),
                trigger_id=trigger.trigger_id,
                trigger_json=trigger_json,
                conversation_id=trigger.conversation_id,
                channel=trigger.channel,
            )
            if await self._executions.create(doc):
                self._remember_new(doc)
            # Published even when the execution already existed: the earlier attempt may
            # have died before publishing, and a duplicate start changes nothing.
            await self._command(
                ExecutionRequested(
                    command_id=f"start:{execution_id}",
                    execution_id=execution_id,
                    tenant_id=trigger.tenant_id,
                ),
                envelope.traceparent,
            )

    async def _answer_waits(
        self, trigger: TriggerReceived, waits: list[Document], traceparent: str | None
    ) -> None:
        message = {
            **trigger.payload,
            "channel": trigger.channel,
            "receivedAt": trigger.received_at.isoformat(),
            "triggerId": trigger.trigger_id,
        }
        for wait in waits:
            await self._command(
                EffectSettled(
                    command_id=f"reply:{trigger.trigger_id}:{wait['_id']}",
                    execution_id=wait["execution_id"],
                    tenant_id=trigger.tenant_id,
                    effect_id=wait["effect_id"],
                    idempotency_key=f"{wait['execution_id']}:{wait['effect_id']}",
                    result=message,
                ),
                traceparent,
            )
            await self._reply_waits.remove(wait["_id"])

    async def on_command(self, envelope: Envelope[Command]) -> None:
        """Apply one command: service actions, node runs, then the execution (conditional on
        its version), then the outbox. A redelivered command re-publishes its outbox and
        changes nothing else."""
        command = envelope.data
        doc = self._just_created.pop(command.execution_id, None)
        fresh = doc is not None
        if doc is None:
            doc = await self._executions.get(command.execution_id)
        if doc is None:
            raise Permanent(f"no execution {command.execution_id}")
        if doc.get("last_command_id") == command.command_id:
            await self._publish_outbox(doc)  # we may have died before publishing it
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
                limits=self._limits,
                traceparent=current_traceparent(),
            )
            record_node_spans(applied.node_runs)
            if not applied.changed:
                return
            for action in applied.actions:
                await self._perform(applied.doc, action)
            await self._executions.record_node_runs(applied.node_runs)
            # Conditional on the version read: if another consumer wrote it since (after a
            # rebalance), ConcurrentUpdate makes the next attempt read it afresh.
            await self._executions.save(
                applied.doc, expected_version=int(doc["version"]), fresh=fresh
            )
            await self._publish_outbox(applied.doc)

    async def _perform(self, doc: Document, action: Action) -> None:
        """What a command needs done in MongoDB before its state is written (idempotent)."""
        if isinstance(action, AwaitReply):
            await self._reply_waits.add(
                doc["tenant_id"], action.conversation_id, doc["_id"], action.effect_id
            )
        elif isinstance(action, ReleaseReplies):
            await self._reply_waits.release(doc["_id"], action.effect_id)
        elif isinstance(action, StartChild):
            await self._start_child(doc, action)

    async def _start_child(self, parent: Document, action: StartChild) -> None:
        workflow = await self._catalog.workflow(parent["tenant_id"], action.workflow_id)
        version = (
            None
            if workflow is None
            else workflow.get("active_version") or workflow.get("latest_version")
        )
        if workflow is None or version is None:
            await self._command(
                EffectSettled(
                    command_id=f"child-missing:{action.child_id}",
                    execution_id=parent["_id"],
                    tenant_id=parent["tenant_id"],
                    effect_id=action.parent_effect_id,
                    idempotency_key=f"{parent['_id']}:{action.parent_effect_id}",
                    error={
                        "type": "SubWorkflowNotFound",
                        "message": f"no workflow {action.workflow_id} for this tenant",
                    },
                ),
                None,
            )
            return
        trigger = json.loads(parent["trigger_json"])
        await self._executions.create(
            new_execution(
                execution_id=action.child_id,
                tenant_id=parent["tenant_id"],
                workflow=workflow,
                version=int(version),  # pinned to the version current when the child starts
                trigger_id=f"{parent['trigger_id']}>{action.child_id}",
                trigger_json=json.dumps({**trigger, "input": action.input}, default=str),
                conversation_id=parent.get("conversation_id"),
                channel=parent.get("channel"),
                depth=action.depth,
                parent={
                    "execution_id": parent["_id"],
                    "effect_id": action.parent_effect_id,
                    "wait": action.wait,
                },
            )
        )
        await self._command(
            ExecutionRequested(
                command_id=f"start:{action.child_id}",
                execution_id=action.child_id,
                tenant_id=parent["tenant_id"],
            ),
            None,
        )

    def _remember_new(self, doc: Document) -> None:
        """Executions this process just created: their start command needs no read. Nobody
        else can have written them yet, and if that ever happens the version check catches it.
        Bounded: a start that never comes (a crash) leaves no growth behind."""
        if len(self._just_created) >= 10_000:
            self._just_created.pop(next(iter(self._just_created)))
        self._just_created[doc["_id"]] = doc

    async def _compiled_workflow(self, workflow_id: str, version: int) -> engine.CompiledWorkflow:
        key = (workflow_id, version)
        compiled = self._compiled.get(key)
        if compiled is None:
            definition = await self._catalog.definition(workflow_id, version)
            compiled = self._compiled[key] = engine.compile_workflow(definition)
        return compiled

    async def _command(self, command: Event, traceparent: str | None) -> None:
        execution_id = command.execution_id  # type: ignore[attr-defined]
        out = Envelope.wrap(
            command,
            source=SOURCE,
            tenant_id=command.tenant_id,  # type: ignore[attr-defined]
            traceparent=traceparent,
        )
        await self._send(outbox_entry(topics.EXECUTION_COMMANDS, execution_id, out))

    async def _publish_outbox(self, doc: Document) -> None:
        # Sent together: the producer batches them (one round trip, not one per event); the
        # sends start in outbox order, so events of one execution keep their order on a topic.
        await asyncio.gather(*(self._send(entry) for entry in doc.get("outbox", [])))

    async def _send(self, entry: Document) -> None:
        await self._publish(
            entry["value"].encode(), entry["topic"], entry["key"].encode(), entry["headers"]
        )
