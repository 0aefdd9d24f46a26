"""One command applied to one execution, without I/O: the heart of the durable runtime.

``apply`` takes the stored execution document, the compiled workflow and a command, runs the
engine until every path has ended or suspended (or the step budget is spent), and returns the
new document (with its outbox), the node runs to record, and whether anything changed. The
service then writes node runs, writes the document conditionally on its version, publishes the
outbox, and only then commits the Kafka offset.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from contracts import Envelope, topics
from contracts.delivery import Permanent
from contracts.events import (
    EffectSettled,
    Event,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionRequested,
    ExecutionStarted,
    IntegrationRequested,
    NodeStepped,
    NotificationRequested,
    TimerRequested,
)

from executor.runtime import engine
from executor.runtime.engine import EffectTarget

SOURCE = "/connectflo/executor"
Document = dict[str, Any]


@dataclass
class Applied:
    """What applying a command produced."""

    doc: Document
    node_runs: list[Document] = field(default_factory=list)
    changed: bool = True


def outbox_entry(topic: str, key: str, envelope: Envelope[Any]) -> Document:
    return {
        "topic": topic,
        "key": key,
        "headers": envelope.headers(),
        "value": envelope.body().decode(),
    }


async def apply(
    doc: Document,
    workflow: engine.CompiledWorkflow,
    command: ExecutionRequested | EffectSettled,
    *,
    now: Callable[[], datetime],
    max_steps: int,
    traceparent: str | None,
) -> Applied:
    """Apply ``command`` to the execution ``doc`` (not mutated)."""
    doc = dict(doc)
    outbox: list[Document] = []

    def emit(topic: str, event: Event) -> None:
        envelope = Envelope.wrap(
            event, source=SOURCE, tenant_id=doc["tenant_id"], traceparent=traceparent
        )
        outbox.append(outbox_entry(topic, doc["_id"], envelope))

    if isinstance(command, ExecutionRequested):
        if doc.get("state_json") is not None and command.command_id.startswith("start:"):
            return Applied(doc, changed=False)  # already started: a redelivered start
        if doc.get("state_json") is None:
            started = now()
            try:
                state = engine.start(workflow, _context(doc, started))
            except engine.NoMatchingTrigger as exc:
                raise PermanentStepError(str(exc)) from exc
            doc.update(status="running", started_at=started, total_nodes=len(workflow.nodes))
            emit(
                topics.EXECUTIONS,
                ExecutionStarted(
                    execution_id=doc["_id"],
                    tenant_id=doc["tenant_id"],
                    workflow_id=doc["workflow_id"],
                    workflow_version=doc["workflow_version"],
                    trigger_id=doc["trigger_id"],
                    started_at=started,
                ),
            )
        else:
            state = engine.load_state(doc["state_json"])
    else:
        state = engine.load_state(doc["state_json"])
        try:
            engine.deliver(workflow, state, command.effect_id, command.result, command.error)
        except engine.EffectNotWaiting:
            return Applied(doc, changed=False)  # settled before: a redelivered result

    outcome = await engine.advance(workflow, state, now=now, max_steps=max_steps)
    seq = int(doc.get("node_seq", 0))
    runs: list[Document] = []
    for run in outcome.node_runs:
        seq += 1
        runs.append(_node_run_doc(doc, seq, run))
        emit(topics.NODE_STEPS, _node_stepped(doc, run))
    for effect in outcome.effects:
        _emit_request(doc, effect, now(), emit)

    status = str(outcome.status)
    finished = now()
    doc.update(
        node_seq=seq,
        status=status,
        state_json=engine.dump_state(state),
        variables_json=json.dumps(engine.visible_variables(state), default=str),
        # A node that waited for the outside world has two runs (waiting, then its outcome);
        # it counts once, when it has an outcome.
        executed_nodes=int(doc.get("executed_nodes", 0))
        + sum(1 for r in outcome.node_runs if r.status in ("completed", "failed")),
        failed_nodes=int(doc.get("failed_nodes", 0))
        + sum(1 for r in outcome.node_runs if r.status == "failed"),
        waiting_for=sorted(state.waiting),
        last_command_id=command.command_id,
        version=int(doc["version"]) + 1,
    )
    if status == "running":  # the step budget ran out: continue in a command of our own
        emit(
            topics.EXECUTION_COMMANDS,
            ExecutionRequested(
                command_id=f"continue:{doc['_id']}:{seq}",
                execution_id=doc["_id"],
                tenant_id=doc["tenant_id"],
            ),
        )
    elif status in ("completed", "failed"):
        _finish(doc, state, finished, emit)
    doc["outbox"] = outbox
    return Applied(doc, runs)


def _finish(
    doc: Document, state: engine.ExecutionState, finished: datetime, emit: Callable[..., None]
) -> None:
    """Timing, and ExecutionCompleted or ExecutionFailed."""
    started: datetime = doc["started_at"]
    elapsed_ms = int((finished - started).total_seconds() * 1000)
    doc.update(finished_at=finished, execution_time_ms=elapsed_ms)
    common = {
        "execution_id": doc["_id"],
        "tenant_id": doc["tenant_id"],
        "workflow_id": doc["workflow_id"],
        "workflow_version": doc["workflow_version"],
        "started_at": started,
        "execution_time_ms": elapsed_ms,
    }
    if doc["status"] == "completed":
        emit(
            topics.EXECUTIONS,
            ExecutionCompleted(
                **common, completed_at=finished, executed_nodes=doc["executed_nodes"]
            ),
        )
    else:
        error = state.error or {}
        doc["error"] = error
        emit(
            topics.EXECUTIONS,
            ExecutionFailed(
                **common,
                failed_at=finished,
                node_id=error.get("node_id"),
                message=str(error.get("message", "failed")),
            ),
        )


def _context(doc: Document, started: datetime) -> Document:
    trigger = json.loads(doc["trigger_json"])
    return {
        "execution": {
            "id": doc["_id"],
            "workflowId": doc["workflow_id"],
            "tenantId": doc["tenant_id"],
            "startedAt": started.isoformat(),
        },
        "trigger": {
            "type": doc["trigger_type"],
            "source": trigger.get("payload", {}),
            "conversationId": doc.get("conversation_id"),
            "channel": doc.get("channel"),
        },
        "variables": {"workflow": {}, "conversation": {}, "global": {}},
        "customer": trigger.get("customer"),
        "resources": {},
    }


def _node_run_doc(doc: Document, seq: int, run: engine.NodeRun) -> Document:
    return {
        "_id": f"{doc['_id']}:{seq:06d}",
        "execution_id": doc["_id"],
        "tenant_id": doc["tenant_id"],
        "workflow_id": doc["workflow_id"],
        "seq": seq,
        "node_id": run.node_id,
        "label": run.label,
        "kind": run.kind,
        "status": str(run.status),
        "port": run.port,
        "activation": run.activation,
        "effect_id": run.effect_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_ms": _duration_ms(run),
        # JSON text: payload keys may hold '.' or '$', which a MongoDB field name may not.
        "input_json": json.dumps(run.input, default=str),
        "output_json": json.dumps(run.output, default=str),
        "error": _error_text(run.error),
        "error_detail": run.error,
        "missing_paths": list(run.missing_paths),
    }


def _duration_ms(run: engine.NodeRun) -> float:
    return round((run.finished_at - run.started_at).total_seconds() * 1000, 3)


def _node_stepped(doc: Document, run: engine.NodeRun) -> NodeStepped:
    return NodeStepped(
        execution_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        workflow_id=doc["workflow_id"],
        node_id=run.node_id,
        label=run.label,
        kind=run.kind,
        status=str(run.status),  # type: ignore[arg-type]
        port=run.port,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_ms=_duration_ms(run),
        error=_error_text(run.error),
    )


def _error_text(error: dict[str, Any] | None) -> str | None:
    return None if error is None else str(error.get("message") or error)


def _emit_request(
    doc: Document, effect: engine.Effect, now: datetime, emit: Callable[..., None]
) -> None:
    """The request for the service that carries out ``effect``."""
    common = {
        # effect_id is node:activation:attempt, so this is execution_id:node_id:...:attempt.
        "idempotency_key": f"{doc['_id']}:{effect.effect_id}",
        "execution_id": doc["_id"],
        "tenant_id": doc["tenant_id"],
        "effect_id": effect.effect_id,
        "node_id": effect.node_id,
    }
    event: Event
    if effect.target is EffectTarget.NOTIFIER:
        topic = topics.NOTIFICATION_REQUESTS
        event = NotificationRequested(
            **common,
            kind=effect.kind,
            channel=str(effect.request.get("channel") or doc.get("channel") or "chat"),
            conversation_id=doc.get("conversation_id"),
            request=effect.request,
        )
    elif effect.target is EffectTarget.SCHEDULER:
        topic = topics.TIMER_REQUESTS
        event = TimerRequested(**common, fire_at=_fire_at(effect.request, now))
    elif effect.target is EffectTarget.INTEGRATIONS:
        topic = topics.INTEGRATION_REQUESTS
        event = IntegrationRequested(**common, kind=effect.kind, request=effect.request)
    else:
        raise PermanentStepError(
            f"node {effect.node_id} ({effect.kind}) needs the executor itself "
            "(sub-workflows, wait for reply): not available yet"
        )
    emit(topic, event)


def _fire_at(request: dict[str, Any], now: datetime) -> datetime:
    if "until" in request:
        return datetime.fromisoformat(str(request["until"]))
    return now + timedelta(seconds=float(request.get("delay_seconds", 0)))


class PermanentStepError(Permanent):
    """A command that can never be applied as the workflow stands (dead-lettered at once)."""
