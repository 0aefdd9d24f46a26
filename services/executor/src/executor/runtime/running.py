"""One command of a batch, run: ``step.apply`` under the command's span in the execution's
trace, then what it asks done in MongoDB before its state is written; the result joins the
batch (``batch.Touched``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.conversations import conversation_ref
from contracts.envelope import TraceContext
from contracts.events import EffectSettled

from executor.adapters.execution_documents import node_runs_document
from executor.runtime.batch import Batch, Touched
from executor.runtime.children import ChildStart
from executor.runtime.conversations import said_record
from executor.runtime.effects import (
    AwaitReply,
    CloseConversation,
    ReleaseReplies,
    StartChild,
    TagConversation,
)
from executor.runtime.outbox import trace_of
from executor.runtime.step import FINISHED, Action, Applied, Command, Limits, apply
from executor.runtime.workflows import CompiledWorkflows
from executor.telemetry import context_from, current_trace, link_to, record_node_runs, tracer

Document = dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def release(batch: Batch, doc: Document, effect_id: str) -> None:
    """The execution's reply wait ``effect_id`` gone from its conversation (a wait released
    twice changes nothing the second time)."""
    conversation_id = doc["reply_waits"].pop(effect_id)
    ref = conversation_ref(doc["tenant_id"], conversation_id)
    batch.conversations.release(ref, doc["_id"], effect_id)


class CommandRunner:
    def __init__(
        self,
        workflows: CompiledWorkflows,
        children: ChildStart,
        limits: Limits,
    ) -> None:
        self._workflows = workflows
        self._children = children
        self._limits = limits

    async def run(
        self,
        batch: Batch,
        doc: Document,
        command: Command,
        trace: TraceContext,
        stored_version: int | None,
        fresh: bool,
    ) -> None:
        """Apply one command in memory; its node runs, document and outbox join the batch."""
        workflow = await self._workflows.get(doc["workflow_id"], int(doc["workflow_version"]))
        # One trace per execution: every command's span continues the trace its start was
        # in (kept on the document), linked to the message that resumed it when that came
        # from another trace (a customer's reply, a retry or cancel from the API).
        if "traceparent" not in doc:
            doc["traceparent"], doc["tracestate"] = trace["traceparent"], trace["tracestate"]
        origin = trace_of(doc)
        resumed_from = trace["traceparent"]
        with tracer.start_as_current_span(
            f"execution {command.event_type}",
            context=context_from(**origin),
            links=link_to(resumed_from) if resumed_from != origin["traceparent"] else None,
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
                trace=current_trace(),
            )
            record_node_runs(applied.node_runs)
        if not applied.changed:
            return
        if isinstance(command, EffectSettled):
            # a reply: the trigger that answered the wait released it in its conversation
            (applied.doc.get("reply_waits") or {}).pop(command.effect_id, None)
        for action in applied.actions:
            await self._perform(batch, applied.doc, action)
        self._conversation(batch, applied)
        touched = batch.touched.setdefault(doc["_id"], Touched(doc, stored_version, fresh))
        if applied.node_runs:
            touched.node_runs.append(node_runs_document(applied.node_runs))
        touched.doc = applied.doc
        touched.outbox.extend(applied.doc["outbox"])
        touched.command_ids.append(command.command_id)

    def _conversation(self, batch: Batch, applied: Applied) -> None:
        """What the command changed of its conversation: the variables it wrote (conversation
        and global), and the status its run leaves the conversation in, when that changed."""
        doc = applied.doc
        conversation_id = doc.get("conversation_id")
        if applied.variable_writes:
            batch.conversations.variables(
                doc["tenant_id"], conversation_id, applied.variable_writes
            )
        if conversation_id is None:
            return
        at = _now()
        batch.conversations.messages.extend(
            said_record(doc, text, index, at) for index, text in enumerate(applied.said)
        )
        ref = conversation_ref(doc["tenant_id"], conversation_id)
        if applied.replied:
            batch.conversations.outbound(ref, at)
        if doc["status"] in FINISHED and doc.pop("conversation_run", False):
            batch.conversations.run_ended(ref, doc["workflow_id"], doc["_id"])
        if doc["status"] in FINISHED:
            status = "open"
        elif doc.get("waiting_on_customer"):
            status = "waiting_on_customer"
        else:
            status = "bot"
        if doc.get("conversation_status") != status:
            doc["conversation_status"] = status
            batch.conversations.status(ref, status, at)

    async def _perform(self, batch: Batch, doc: Document, action: Action) -> None:
        """What a command needs done in MongoDB before its state is written (idempotent).
        A reply wait is registered in its conversation's document, and kept on the
        execution's (``reply_waits``: effect id -> conversation id) so that its release
        knows where it is."""
        if isinstance(action, AwaitReply):
            doc.setdefault("reply_waits", {})[action.effect_id] = action.conversation_id
            ref = conversation_ref(doc["tenant_id"], action.conversation_id)
            batch.conversations.wait(ref, doc["_id"], action.effect_id, _now())
        elif isinstance(action, ReleaseReplies):
            waits = doc.get("reply_waits") or {}
            for effect_id in [e for e in waits if action.effect_id in (None, e)]:
                release(batch, doc, effect_id)
        elif isinstance(action, StartChild):
            batch.sends.append(await self._children.start(doc, action))
        elif isinstance(action, TagConversation):
            ref = conversation_ref(doc["tenant_id"], action.conversation_id)
            batch.conversations.tags(ref, action.add, action.remove)
        elif isinstance(action, CloseConversation):
            ref = conversation_ref(doc["tenant_id"], action.conversation_id)
            batch.conversations.close(ref, action.resolution, _now())
