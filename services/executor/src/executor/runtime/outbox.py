"""The events of an execution and how an outbox entry is encoded; no state of its own.

``step`` decides which events a command publishes and keeps its outbox; the entries are stored
in the execution document (one write with the state) and published after the write, so a crash
re-publishes, never loses (docs/architecture.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts import Envelope, topics
from contracts.envelope import TraceContext
from contracts.events import (
    EffectSettled,
    Event,
    ExecutionCancelled,
    ExecutionCancelRequested,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionRequested,
    ExecutionStarted,
    ExecutionWaiting,
    MessageQueued,
    NodesStepped,
    NodeStep,
    WaitingFor,
)

SOURCE = "/connectflo/executor"
Document = dict[str, Any]
Execution = Mapping[str, Any]  # the execution document, read only


@dataclass(frozen=True)
class Message:
    """An event to publish; ``key`` None: keyed by the execution's id."""

    topic: str
    event: Event
    key: str | None = None


def outbox_entry(topic: str, key: str, envelope: Envelope[Any]) -> Document:
    return {
        "topic": topic,
        "key": key,
        "headers": envelope.headers(),
        "value": envelope.body().decode(),
    }


def entry(message: Message, doc: Execution, trace: TraceContext) -> Document:
    """``message`` as the outbox of ``doc`` stores it."""
    envelope = Envelope.wrap(message.event, source=SOURCE, tenant_id=doc["tenant_id"], **trace)
    return outbox_entry(message.topic, message.key or doc["_id"], envelope)


def command_entry(
    command: ExecutionRequested | EffectSettled | ExecutionCancelRequested | MessageQueued,
    trace: TraceContext,
) -> Document:
    """A command to an execution, keyed by it (its partition owns the execution)."""
    out = Envelope.wrap(command, source=SOURCE, tenant_id=command.tenant_id, **trace)
    return outbox_entry(topics.EXECUTION_COMMANDS, command.execution_id, out)


def _identity(doc: Execution) -> dict[str, Any]:
    return {
        "execution_id": doc["_id"],
        "tenant_id": doc["tenant_id"],
        "workflow_id": doc["workflow_id"],
        "workflow_version": doc["workflow_version"],
    }


def started(doc: Execution, at: datetime) -> Message:
    event = ExecutionStarted(**_identity(doc), trigger_id=doc["trigger_id"], started_at=at)
    return Message(topics.EXECUTIONS, event)


def stepped(doc: Execution, runs: list[Document]) -> Message:
    """One NodesStepped for the node runs of a command (``execution_documents.node_run_record``)."""
    steps = [
        NodeStep(
            seq=run["seq"],
            node_id=run["node_id"],
            label=run["label"],
            kind=run["kind"],
            status=run["status"],
            port=run["port"],
            started_at=run["started_at"],
            finished_at=run["finished_at"],
            duration_ms=run["duration_ms"],
            error=run["error"],
        )
        for run in runs
    ]
    event = NodesStepped(
        execution_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        workflow_id=doc["workflow_id"],
        steps=steps,
    )
    return Message(topics.NODE_STEPS, event)


def continued(doc: Execution) -> Message:
    """The step budget ran out: a command of its own goes on."""
    command = ExecutionRequested(
        command_id=f"continue:{doc['_id']}:{doc['node_seq']}",
        execution_id=doc["_id"],
        tenant_id=doc["tenant_id"],
    )
    return Message(topics.EXECUTION_COMMANDS, command)


def waiting(doc: Execution, waiting_for: list[WaitingFor], since: datetime) -> Message:
    event = ExecutionWaiting(**_identity(doc), waiting_for=waiting_for, since=since)
    return Message(topics.EXECUTIONS, event)


def completed(doc: Execution, started: datetime, at: datetime, elapsed_ms: int) -> Message:
    event = ExecutionCompleted(
        **_identity(doc),
        started_at=started,
        completed_at=at,
        execution_time_ms=elapsed_ms,
        executed_nodes=doc["executed_nodes"],
    )
    return Message(topics.EXECUTIONS, event)


def failed(
    doc: Execution, started: datetime, at: datetime, elapsed_ms: int, error: Document
) -> Message:
    event = ExecutionFailed(
        **_identity(doc),
        started_at=started,
        failed_at=at,
        execution_time_ms=elapsed_ms,
        node_id=error.get("node_id"),
        message=str(error.get("message", "failed")),
    )
    return Message(topics.EXECUTIONS, event)


def cancelled(doc: Execution, started: datetime | None, at: datetime, reason: str) -> Message:
    event = ExecutionCancelled(**_identity(doc), started_at=started, cancelled_at=at, reason=reason)
    return Message(topics.EXECUTIONS, event)


def trace_of(doc: Mapping[str, Any]) -> TraceContext:
    """The trace an execution started in (kept on its document): its commands continue it."""
    return TraceContext(traceparent=doc.get("traceparent"), tracestate=doc.get("tracestate"))
