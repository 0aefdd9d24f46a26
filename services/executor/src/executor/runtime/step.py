"""One command applied to one execution, without I/O: the heart of the durable runtime.

``apply`` takes the stored execution document, the compiled workflow and a command, runs the
engine until every path has ended or is suspended (or the step budget is spent), and returns the
new document (its outbox inside), the node runs to record, and the few things the service must
do in MongoDB first (start a child execution, register a wait for the customer's reply). The
service then records node runs, writes the document conditionally on its version, publishes the
outbox, and only then commits the Kafka offset (docs/architecture.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts import topics
from contracts.events import (
    EffectSettled,
    ExecutionCancelRequested,
    ExecutionRequested,
    ExecutionRetryRequested,
    WaitingFor,
)
from servicekit.delivery import Permanent

from executor.runtime import engine_port
from executor.runtime.effects import (
    DEADLINE,
    DELAY,
    REPLY_TIMEOUT,
    AwaitReply,
    EffectRouter,
    ReleaseReplies,
    StartChild,
)
from executor.runtime.outbox import Outbox, duration_ms, error_text

Document = dict[str, Any]
Command = ExecutionRequested | EffectSettled | ExecutionCancelRequested | ExecutionRetryRequested
Action = StartChild | AwaitReply | ReleaseReplies
FINISHED = ("completed", "failed", "cancelled")


class PermanentStepError(Permanent):
    """A command that can never be applied as the workflow stands (dead-lettered at once)."""


@dataclass(frozen=True)
class Limits:
    """Per-command step budget and per-execution limits (defaults in executor.settings)."""

    max_steps: int = 500
    max_running_seconds: float = 3600
    max_waiting_seconds: float = 7 * 24 * 3600
    max_depth: int = 5


@dataclass
class Applied:
    """What applying a command produced."""

    doc: Document
    node_runs: list[Document] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    changed: bool = True


async def apply(
    doc: Document,
    workflow: engine_port.CompiledWorkflow,
    command: Command,
    *,
    now: Callable[[], datetime],
    limits: Limits,
    traceparent: str | None,
) -> Applied:
    """Apply ``command`` to the execution ``doc`` (not mutated)."""
    retrying = isinstance(command, ExecutionRetryRequested) and doc["status"] == "failed"
    if doc["status"] in FINISHED and not retrying:
        return Applied(doc, changed=False)
    step = _Step(dict(doc), workflow, now, limits, traceparent)
    changed = await step.apply(command)
    return Applied(step.doc, step.runs, step.actions, changed)


class _Step:
    def __init__(
        self,
        doc: Document,
        workflow: engine_port.CompiledWorkflow,
        now: Callable[[], datetime],
        limits: Limits,
        traceparent: str | None,
    ) -> None:
        self.doc = doc
        self.workflow = workflow
        self.now = now
        self.limits = limits
        self.outbox = Outbox(doc, traceparent)
        self.runs: list[Document] = []
        self.steps_published = False
        self.actions: list[Action] = []
        self.router = EffectRouter(doc, self.outbox, self.actions, now, limits.max_depth)

    async def apply(self, command: Command) -> bool:
        doc = self.doc
        if isinstance(command, ExecutionCancelRequested):
            self._cancel(command.reason)
            return self._commit(command.command_id)
        if doc.get("state_json") is None:
            if not isinstance(command, ExecutionRequested):
                raise PermanentStepError(f"execution {doc['_id']} has not started")
            state = self._start()
        else:
            state = engine_port.load_state(doc["state_json"])
            proceed = self._receive(state, command)
            if proceed is None:
                return False
            if not proceed:  # handled without running the engine (a delayed request went out)
                return self._commit(command.command_id)
        self._resumed()
        if self._running_too_long():
            self._abort(
                state, f"running time limit of {self.limits.max_running_seconds:g}s exceeded"
            )
        else:
            await self._advance(state)
        self._settle_status(state)
        return self._commit(command.command_id)

    # -- receiving a command ---------------------------------------------------------------

    def _start(self) -> engine_port.ExecutionState:
        started = self.now()
        try:
            state = engine_port.start(self.workflow, _context(self.doc, started))
        except engine_port.NoMatchingTrigger as exc:
            raise PermanentStepError(str(exc)) from exc
        self.doc.update(status="running", started_at=started, total_nodes=len(self.workflow.nodes))
        self.outbox.started(started)
        return state

    def _receive(self, state: engine_port.ExecutionState, command: Command) -> bool | None:
        """True: run the engine; False: done without it; None: nothing to do (a duplicate)."""
        if isinstance(command, ExecutionRequested):
            return None if command.command_id.startswith("start:") else True
        if isinstance(command, ExecutionRetryRequested):
            try:
                engine_port.retry(self.workflow, state)
            except engine_port.NotRetryable:
                return None
            self.doc.update(status="running", error=None)
            if self.doc.get("incident"):
                self.doc["incident"] = {
                    **self.doc["incident"],
                    "status": "resolved",
                    "resolved_at": self.now(),
                }
            return True
        assert isinstance(command, EffectSettled)
        effect_id = command.effect_id
        self.router.settled(command.idempotency_key)
        if effect_id.startswith(DEADLINE):
            if self.doc["status"] != "waiting" or effect_id != self.doc.get("deadline_effect"):
                return None
            seconds = self.limits.max_waiting_seconds
            self._abort(state, f"waited longer than the waiting time limit of {seconds:g}s")
            self._settle_status(state)
            return False
        if effect_id.startswith(DELAY):
            return False if self.router.release_delayed(effect_id) else None
        if effect_id.startswith(REPLY_TIMEOUT):
            waited = effect_id.removeprefix(REPLY_TIMEOUT)
            try:
                engine_port.deliver(self.workflow, state, waited, {"timedOut": True})
            except engine_port.EffectNotWaiting:
                return None
            self.actions.append(ReleaseReplies(effect_id=waited))
            return True
        try:
            engine_port.deliver(self.workflow, state, effect_id, command.result, command.error)
        except engine_port.EffectNotWaiting:
            return None  # settled before: a redelivered result
        return True

    # -- running ---------------------------------------------------------------------------

    async def _advance(self, state: engine_port.ExecutionState) -> None:
        budget = self.limits.max_steps
        while budget > 0:
            outcome = await engine_port.advance(
                self.workflow, state, now=self.now, max_steps=budget
            )
            budget -= len(outcome.node_runs)
            for run in outcome.node_runs:
                self._record(run)
            answered_now = [self.router.route(effect) for effect in outcome.effects]
            self.router.cancel(outcome.cancelled_effects)
            ready = [answer for answer in answered_now if answer is not None]
            if not ready or state.finished:
                return
            # Requests whose result the workflow does not need (a reply, a tag) and children
            # started without waiting: the path goes on at once.
            for effect_id, result in ready:
                engine_port.deliver(self.workflow, state, effect_id, result)

    def _record(self, run: engine_port.NodeRun) -> None:
        doc = self.doc
        seq = int(doc.get("node_seq", 0)) + 1
        doc["node_seq"] = seq
        if run.status in ("completed", "failed"):
            doc["executed_nodes"] = int(doc.get("executed_nodes", 0)) + 1
        if run.status == "failed":
            doc["failed_nodes"] = int(doc.get("failed_nodes", 0)) + 1
        self.runs.append(_node_run_doc(doc, seq, run))

    def _abort(self, state: engine_port.ExecutionState, message: str) -> None:
        self.router.cancel(engine_port.abort(state, {"message": message, "code": "limit"}))

    def _cancel(self, reason: str) -> None:
        doc, now = self.doc, self.now()
        if doc.get("state_json") is not None:
            state = engine_port.load_state(doc["state_json"])
            self.router.cancel(engine_port.abort(state, {"message": reason, "code": "cancelled"}))
            doc["state_json"] = engine_port.dump_state(state)
        self.router.cancel_all_timers()
        self.actions.append(ReleaseReplies(effect_id=None))
        started = doc.get("started_at")
        doc.update(status="cancelled", finished_at=now, error={"message": reason}, waiting_for=[])
        if started is not None:
            doc["execution_time_ms"] = int((now - started).total_seconds() * 1000)
        self.outbox.cancelled(started, now, reason)
        self.router.notify_parent(status="cancelled", variables=None, error={"message": reason})

    # -- after running ---------------------------------------------------------------------

    def _resumed(self) -> None:
        since = self.doc.get("waiting_since")
        if since is not None:
            waited = (self.now() - since).total_seconds() * 1000
            self.doc["waited_ms"] = int(self.doc.get("waited_ms", 0) + waited)
            self.doc["waiting_since"] = None

    def _running_too_long(self) -> bool:
        started: datetime | None = self.doc.get("started_at")
        if started is None:
            return False
        waited_ms: int = self.doc.get("waited_ms", 0)
        running_ms = (self.now() - started).total_seconds() * 1000 - waited_ms
        return running_ms > self.limits.max_running_seconds * 1000

    def _settle_status(self, state: engine_port.ExecutionState) -> None:
        self._publish_steps()
        doc, now = self.doc, self.now()
        status = str(state.status)
        variables = engine_port.visible_variables(state)
        doc.update(
            status=status,
            state_json=engine_port.dump_state(state),
            variables_json=json.dumps(variables, default=str),
            waiting_for=sorted(state.waiting),
        )
        if status == "running":  # the step budget ran out: continue in a command of our own
            self.outbox.emit(
                topics.EXECUTION_COMMANDS,
                ExecutionRequested(
                    command_id=f"continue:{doc['_id']}:{doc['node_seq']}",
                    execution_id=doc["_id"],
                    tenant_id=doc["tenant_id"],
                ),
            )
        elif status == "waiting":
            doc["waiting_since"] = now
            waiting = [
                WaitingFor(
                    effect_id=effect_id,
                    node_id=activation.node_id,
                    kind=self.workflow.nodes[activation.node_id].kind.name,
                )
                for effect_id, activation in state.waiting.items()
            ]
            self.outbox.waiting(waiting, now)
            self.router.waiting_deadline(self.limits.max_waiting_seconds)
        else:
            started: datetime = doc["started_at"]
            elapsed_ms = int((now - started).total_seconds() * 1000)
            doc.update(finished_at=now, execution_time_ms=elapsed_ms)
            self.router.cancel_all_timers()
            if status == "completed":
                self.outbox.completed(started, now, elapsed_ms)
                self.router.notify_parent(status, variables["workflow"], None)
            else:
                error = dict(state.error or {"message": "failed"})
                error.setdefault(
                    "node_id", error.get("nodeId") or (state.retry_from or {}).get("node_id")
                )
                doc["error"] = error
                doc["incident"] = {
                    "status": "open",
                    "node_id": error.get("node_id"),
                    "message": error_text(error),
                    "opened_at": now,
                }
                self.outbox.failed(started, now, elapsed_ms, error)
                self.router.notify_parent(status, None, error)

    def _publish_steps(self) -> None:
        """The command's node runs in one NodesStepped, before its lifecycle event."""
        if self.runs and not self.steps_published:
            self.outbox.stepped(self.runs)
            self.steps_published = True

    def _commit(self, command_id: str) -> bool:
        self._publish_steps()
        self.doc.update(
            outbox=self.outbox.entries,
            last_command_id=command_id,
            version=int(self.doc["version"]) + 1,
        )
        return True


def _context(doc: Document, started: datetime) -> Document:
    trigger = json.loads(doc["trigger_json"])
    conversation = doc.get("conversation_id")
    return {
        "execution": {
            "id": doc["_id"],
            "workflowId": doc["workflow_id"],
            "tenantId": doc["tenant_id"],
            "startedAt": started.isoformat(),
            "conversationId": conversation,
            "parentExecutionId": (doc.get("parent") or {}).get("execution_id"),
        },
        "trigger": {
            "type": doc["trigger_type"],
            "source": trigger.get("payload", {}),
            "conversationId": conversation,
            "channel": doc.get("channel"),
        },
        "variables": {"workflow": trigger.get("input") or {}, "conversation": {}, "global": {}},
        "customer": trigger.get("customer"),
        "resources": {},
    }


def _node_run_doc(doc: Document, seq: int, run: engine_port.NodeRun) -> Document:
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
        "duration_ms": duration_ms(run),
        "input": run.input,
        "output": run.output,
        "error": error_text(run.error),
        "error_detail": run.error,
        "missing_paths": list(run.missing_paths),
    }


def node_runs_document(runs: list[Document]) -> Document:
    """The node runs of one command as one document, the runs themselves as JSON text:
    FerretDB's cost is per document and per field, nobody queries inside a run, and payload
    keys may hold '.' or '$', which a field name may not. ``_id`` is the first run's, so a
    redelivered command adds nothing; the history reads runs by (execution_id, seq..last_seq)."""
    first, last = runs[0], runs[-1]
    return {
        "_id": first["_id"],
        "execution_id": first["execution_id"],
        "tenant_id": first["tenant_id"],
        "workflow_id": first["workflow_id"],
        "seq": first["seq"],
        "last_seq": last["seq"],
        "runs_json": json.dumps(runs, default=_json_value, separators=(",", ":")),
    }


EMBEDDED_RUNS_MAX_CHARS = 32_000


def embed_first_runs(doc: Document, documents: list[Document]) -> list[Document]:
    """Put a new execution's first node-run documents into the execution document itself
    (``first_runs_json``, runs up to ``first_runs_last_seq``), written in the same insert;
    those too large to carry in every later write of the execution are returned, to go to
    ``node_runs`` as usual. The history reads both places."""
    texts = [d["runs_json"] for d in documents]
    if not texts or sum(len(t) for t in texts) > EMBEDDED_RUNS_MAX_CHARS:
        return documents
    doc["first_runs_json"] = "[" + ",".join(t[1:-1] for t in texts) + "]"
    doc["first_runs_last_seq"] = documents[-1]["last_seq"]
    return []


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)
