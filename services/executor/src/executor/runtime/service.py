"""The I/O around ``step.apply``: create executions from triggers, apply commands durably.

Work comes in consumed batches. Every execution a batch touches is changed in memory, command
after command, and the batch ends with one round of writes (node runs in one insert, new
executions in one insert, each changed execution replaced conditionally on its version) and
then one round of sends (every outbox, in order). The Kafka offsets are committed after that.
A trigger's execution is started in the same pass that creates it: its first write is the
state after the first step, not an empty document and a start command to itself."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.events import EffectSettled, ExecutionRequested, TriggerReceived
from servicekit.delivery import Permanent

from executor.adapters.store import ExecutionRepository, ReplyWaitRepository, WorkflowCatalogue
from executor.runtime import engine_port
from executor.runtime.effects import AwaitReply, ReleaseReplies, StartChild
from executor.runtime.outbox import SOURCE, outbox_entry
from executor.runtime.step import (
    Action,
    Command,
    Limits,
    PermanentStepError,
    apply,
    embed_first_runs,
    node_runs_document,
)
from executor.telemetry import (
    EXECUTIONS,
    context_from,
    current_traceparent,
    link_to,
    record_node_runs,
    tracer,
)

Document = dict[str, Any]
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]
Flush = Callable[[], Awaitable[None]]
INCOMING_MESSAGE = "Incoming Message"


async def _all(*writes: Awaitable[Any]) -> list[Any]:
    """Run the writes concurrently and wait for every one, then raise the first error: the
    caller's retry must not overlap a write still in flight."""
    results = await asyncio.gather(*writes, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


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


@dataclass
class _Touched:
    """An execution changed by the batch: the document to write and what to send after."""

    doc: Document
    stored_version: int | None  # the version read from MongoDB; None: inserted by the flush
    fresh: bool  # created by this process moments ago (no version read needed)
    outbox: list[Document] = field(default_factory=list)
    command_ids: list[str] = field(default_factory=list)
    node_runs: list[Document] = field(default_factory=list)  # one document per command


@dataclass
class _Batch:
    """The writes and sends of one consumed batch, done together by ``_flush``."""

    touched: dict[str, _Touched] = field(default_factory=dict)
    # for an execution inserted by the flush: what to send instead of its outbox when it
    # already existed (a redelivered trigger): its start command, answered by the outbox
    if_existing: dict[str, Document] = field(default_factory=dict)
    sends: list[Document] = field(default_factory=list)  # other sends, after the writes


class ExecutionService:
    def __init__(
        self,
        catalogue: WorkflowCatalogue,
        executions: ExecutionRepository,
        reply_waits: ReplyWaitRepository,
        publish: Publish,
        *,
        limits: Limits,
    ) -> None:
        self._catalogue = catalogue
        self._executions = executions
        self._reply_waits = reply_waits
        self._publish = publish
        self._limits = limits
        self._compiled: dict[tuple[str, int], engine_port.CompiledWorkflow] = {}
        self._just_created: dict[str, Document] = {}
        self._pending: dict[str, Document] = {}  # written by a flush in flight

    async def on_triggers(self, envelopes: list[Envelope[TriggerReceived]]) -> None:
        """A customer's message first answers executions waiting for it (Wait for Reply);
        otherwise, one execution per active workflow of the trigger's type is created and
        run until it ends or waits."""
        await (await self.plan_triggers(envelopes))()

    async def plan_triggers(self, envelopes: list[Envelope[TriggerReceived]]) -> Flush:
        """``on_triggers`` up to its writes: the flush that does them is returned."""
        batch = _Batch()
        kinds = list(dict.fromkeys((e.data.tenant_id, e.data.trigger_type) for e in envelopes))
        # The two reads at once: each is a round trip, and neither needs the other.
        waits, active = await asyncio.gather(
            self._reply_waits_for(envelopes), self._active_workflows(kinds)
        )
        for envelope in envelopes:
            trigger = envelope.data
            conversation = (trigger.tenant_id, trigger.conversation_id or "")
            if trigger.trigger_type == INCOMING_MESSAGE and waits.get(conversation):
                await self._answer_waits(trigger, waits.pop(conversation), envelope.traceparent)
                continue
            kind = (trigger.tenant_id, trigger.trigger_type)
            trigger_json = trigger.model_dump_json(include={"payload", "customer"})
            for workflow in active[kind]:
                doc = new_execution(
                    execution_id=execution_id_for(trigger.trigger_id, workflow["_id"]),
                    tenant_id=trigger.tenant_id,
                    workflow=workflow,
                    version=int(workflow["active_version"]),
                    trigger_id=trigger.trigger_id,
                    trigger_json=trigger_json,
                    conversation_id=trigger.conversation_id,
                    channel=trigger.channel,
                )
                if doc["_id"] not in batch.touched:  # the same trigger twice in one batch
                    await self._start(batch, doc, envelope.traceparent)
        return self._sealed(batch)

    async def _active_workflows(
        self, kinds: list[tuple[str, str]]
    ) -> dict[tuple[str, str], list[Document]]:
        """The active workflows of each (tenant, trigger type), read at once."""
        found = await asyncio.gather(*(self._catalogue.active_for(*kind) for kind in kinds))
        return dict(zip(kinds, found, strict=True))

    async def _reply_waits_for(
        self, envelopes: list[Envelope[TriggerReceived]]
    ) -> dict[tuple[str, str], list[Document]]:
        """Waits for the conversations of the batch's incoming messages, in one read."""
        conversations = {
            (e.data.tenant_id, e.data.conversation_id)
            for e in envelopes
            if e.data.conversation_id and e.data.trigger_type == INCOMING_MESSAGE
        }
        waits: dict[tuple[str, str], list[Document]] = {}
        for wait in await self._reply_waits.for_conversations(conversations):
            waits.setdefault((wait["tenant_id"], wait["conversation_id"]), []).append(wait)
        return waits

    async def _start(self, batch: _Batch, doc: Document, traceparent: str | None) -> None:
        """Run a new execution's first step now; the flush inserts it with that state."""
        start = ExecutionRequested(
            command_id=f"start:{doc['_id']}", execution_id=doc["_id"], tenant_id=doc["tenant_id"]
        )
        batch.if_existing[doc["_id"]] = self._command_entry(start, traceparent)
        try:
            await self._run(batch, doc, start, traceparent, stored_version=None, fresh=True)
        except PermanentStepError:
            # It can never start (e.g. no trigger node matches): stored as created, and its
            # start command goes to the dead letters with the reason, as any bad command.
            batch.touched[doc["_id"]] = _Touched(doc, stored_version=None, fresh=True)
            batch.touched[doc["_id"]].outbox.append(batch.if_existing[doc["_id"]])

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
            await self._send(
                self._command_entry(
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
            )
            await self._reply_waits.remove(wait["_id"])

    async def on_commands(self, envelopes: list[Envelope[Command]]) -> None:
        """Apply each command in order to its execution (read once per batch), then write
        every changed execution and publish the outboxes. A redelivered command re-publishes
        the outbox written with it and changes nothing else."""
        await (await self.plan_commands(envelopes))()

    async def plan_commands(self, envelopes: list[Envelope[Command]]) -> Flush:
        """``on_commands`` up to its writes: the flush that does them is returned. An
        execution whose write is still in flight is taken as written (``_pending``)."""
        batch = _Batch()
        for envelope in envelopes:
            command = envelope.data
            touched = batch.touched.get(command.execution_id)
            if touched is not None:
                if command.command_id not in touched.command_ids:
                    await self._run(
                        batch,
                        touched.doc,
                        command,
                        envelope.traceparent,
                        touched.stored_version,
                        touched.fresh,
                    )
                continue
            doc = self._just_created.pop(command.execution_id, None)
            fresh = doc is not None  # created by this process: nobody else has written it
            if doc is None:
                # being written by the flush in flight (its version is still checked)
                doc = self._pending.get(command.execution_id)
            if doc is None:
                doc = await self._executions.get(command.execution_id)
            if doc is None:
                raise Permanent(f"no execution {command.execution_id}")
            if command.command_id in (doc.get("applied_commands") or [doc.get("last_command_id")]):
                batch.sends.extend(doc.get("outbox", []))  # we may have died before sending
                continue
            await self._run(
                batch, doc, command, envelope.traceparent, int(doc["version"]), fresh=fresh
            )
        return self._sealed(batch)

    def _sealed(self, batch: _Batch) -> Flush:
        """Complete the batch's documents with what their write carries, take them as written
        until it is done (the next batch may be planned meanwhile), and return the flush."""
        for touched in batch.touched.values():
            # Everything since the last write goes out with this one, so a crash before the
            # sends re-publishes all of it when any of its commands is redelivered.
            touched.doc["outbox"] = touched.outbox
            touched.doc["applied_commands"] = touched.command_ids
            if touched.stored_version is not None:
                # A replace: the state the stored one becomes. Not an insert: that execution
                # may exist already (a redelivered trigger), and its commands come only after
                # the insert's outbox, i.e. from MongoDB.
                self._pending[touched.doc["_id"]] = touched.doc

        async def flush() -> None:
            try:
                await self._flush(batch)
            except BaseException:
                self.forget()  # not written, or in part: MongoDB is the truth again
                raise
            for execution_id, touched in batch.touched.items():
                if self._pending.get(execution_id) is touched.doc:
                    del self._pending[execution_id]

        return flush

    def forget(self) -> None:
        """Drop the documents of writes not known to be done (a flush failed: MongoDB is the
        truth again)."""
        self._pending.clear()

    async def _run(
        self,
        batch: _Batch,
        doc: Document,
        command: Command,
        traceparent: str | None,
        stored_version: int | None,
        fresh: bool,
    ) -> None:
        """Apply one command in memory; its node runs, document and outbox join the batch."""
        workflow = await self._compiled_workflow(doc["workflow_id"], int(doc["workflow_version"]))
        # One trace per execution: every command's span continues the trace its start was
        # in (kept on the document), linked to the message that resumed it when that came
        # from another trace (a customer's reply, a retry or cancel from the API).
        origin = doc.setdefault("traceparent", traceparent)
        with tracer.start_as_current_span(
            f"execution {command.event_type}",
            context=context_from(origin),
            links=link_to(traceparent) if traceparent != origin else None,
            attributes={
                "connectflo.execution.id": doc["_id"],
                "connectflo.workflow.id": doc["workflow_id"],
                "connectflo.command.type": command.event_type,
            },
        ):
            applied = await apply(
                doc,
                workflow,
                command,
                now=_now,
                limits=self._limits,
                traceparent=current_traceparent(),
            )
            record_node_runs(applied.node_runs)
        if not applied.changed:
            return
        for action in applied.actions:
            await self._perform(batch, applied.doc, action)
        touched = batch.touched.setdefault(doc["_id"], _Touched(doc, stored_version, fresh))
        if applied.node_runs:
            touched.node_runs.append(node_runs_document(applied.node_runs))
        touched.doc = applied.doc
        touched.outbox.extend(applied.doc["outbox"])
        touched.command_ids.append(command.command_id)

    async def _flush(self, batch: _Batch) -> None:
        """Node runs first, then the executions at once (new ones inserted, others replaced
        conditionally on their version: ConcurrentUpdate fails the batch and the next attempt
        reads afresh), then every send, then (by the caller's return) the offsets. Node runs
        before their execution: whoever sees an execution's state also finds its timeline. A
        new execution's first node runs go in its own document (``embed_first_runs``): one
        write fewer for the batch, and its state and timeline appear together."""
        runs: list[Document] = []
        new: list[Document] = []
        saves = []
        for t in batch.touched.values():
            if t.stored_version is None:
                new.append(t.doc)
                runs.extend(embed_first_runs(t.doc, t.node_runs))
            else:
                runs.extend(t.node_runs)
                saves.append(
                    self._executions.save(t.doc, expected_version=t.stored_version, fresh=t.fresh)
                )
        if runs:
            await self._executions.record_node_runs(runs)
        existed, *_ = await _all(self._executions.create_many(new), *saves)
        sends: list[Document] = []
        for execution_id, touched in batch.touched.items():
            if execution_id in existed:
                # Created by an earlier attempt: its start command re-publishes its outbox
                # (or is a no-op if it has moved on).
                sends.append(batch.if_existing[execution_id])
            else:
                sends.extend(touched.outbox)
        sends.extend(batch.sends)
        # Sent together: the producer batches them; the sends start in order, so events of
        # one execution keep their order on a topic.
        await asyncio.gather(*(self._send(entry) for entry in sends))
        for execution_id, touched in batch.touched.items():
            if execution_id not in existed:
                _count_lifecycle(touched)

    async def _perform(self, batch: _Batch, doc: Document, action: Action) -> None:
        """What a command needs done in MongoDB before its state is written (idempotent)."""
        if isinstance(action, AwaitReply):
            await self._reply_waits.add(
                doc["tenant_id"], action.conversation_id, doc["_id"], action.effect_id
            )
        elif isinstance(action, ReleaseReplies):
            await self._reply_waits.release(doc["_id"], action.effect_id)
        elif isinstance(action, StartChild):
            await self._start_child(batch, doc, action)

    async def _start_child(self, batch: _Batch, parent: Document, action: StartChild) -> None:
        """Insert the child now; its start command is sent after the parent is written."""
        workflow = await self._catalogue.workflow(parent["tenant_id"], action.workflow_id)
        version = (
            None
            if workflow is None
            else workflow.get("active_version") or workflow.get("latest_version")
        )
        if workflow is None or version is None:
            batch.sends.append(
                self._command_entry(
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
            )
            return
        trigger = json.loads(parent["trigger_json"])
        child = new_execution(
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
        if await self._executions.create(child):
            self._remember_new(child)
        batch.sends.append(
            self._command_entry(
                ExecutionRequested(
                    command_id=f"start:{action.child_id}",
                    execution_id=action.child_id,
                    tenant_id=parent["tenant_id"],
                ),
                None,
            )
        )

    def _remember_new(self, doc: Document) -> None:
        """Executions this process just created: their start command needs no read. Nobody
        else can have written them yet, and if that ever happens the version check catches it.
        Bounded: a start that never comes (a crash) leaves no growth behind."""
        if len(self._just_created) >= 10_000:
            self._just_created.pop(next(iter(self._just_created)))
        self._just_created[doc["_id"]] = doc

    async def _compiled_workflow(
        self, workflow_id: str, version: int
    ) -> engine_port.CompiledWorkflow:
        key = (workflow_id, version)
        compiled = self._compiled.get(key)
        if compiled is None:
            definition = await self._catalogue.definition(workflow_id, version)
            compiled = self._compiled[key] = engine_port.compile_workflow(definition)
        return compiled

    def _command_entry(
        self, command: ExecutionRequested | EffectSettled, traceparent: str | None
    ) -> Document:
        out = Envelope.wrap(
            command, source=SOURCE, tenant_id=command.tenant_id, traceparent=traceparent
        )
        return outbox_entry(topics.EXECUTION_COMMANDS, command.execution_id, out)

    async def _send(self, entry: Document) -> None:
        await self._publish(
            entry["value"].encode(), entry["topic"], entry["key"].encode(), entry["headers"]
        )


_OUTCOMES = {
    "ExecutionStarted": "started",
    "ExecutionCompleted": "completed",
    "ExecutionFailed": "failed",
    "ExecutionCancelled": "cancelled",
}


def _count_lifecycle(touched: _Touched) -> None:
    """The lifecycle events a written execution sent, counted by trigger type."""
    trigger_type = touched.doc.get("trigger_type") or "unknown"
    for entry in touched.outbox:
        outcome = _OUTCOMES.get(entry["headers"].get("ce_type", ""))
        if outcome is not None:
            EXECUTIONS.labels(trigger_type, outcome).inc()
