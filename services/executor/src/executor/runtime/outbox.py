"""The outbox of one command: every event it publishes, built from the execution document.

Entries are stored in the execution document (one write with the state) and published after
the write, so a crash re-publishes, never loses (docs/architecture.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts import Envelope, topics
from contracts.events import (
    Event,
    ExecutionCancelled,
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionStarted,
    ExecutionWaiting,
    NodesStepped,
    NodeStep,
    WaitingFor,
)

from executor.runtime import engine_port

SOURCE = "/connectflo/executor"
Document = dict[str, Any]


def outbox_entry(topic: str, key: str, envelope: Envelope[Any]) -> Document:
    return {
        "topic": topic,
        "key": key,
        "headers": envelope.headers(),
        "value": envelope.body().decode(),
    }


def error_text(error: dict[str, Any] | None) -> str | None:
    return None if error is None else str(error.get("message") or error)


def duration_ms(run: engine_port.NodeRun) -> float:
    return round((run.finished_at - run.started_at).total_seconds() * 1000, 3)


class Outbox:
    """Collects the events of one command for one execution."""

    def __init__(self, doc: Document, traceparent: str | None) -> None:
        self._doc = doc
        self._traceparent = traceparent
        self.entries: list[Document] = []

    def emit(self, topic: str, event: Event, key: str | None = None) -> None:
        envelope = Envelope.wrap(
            event, source=SOURCE, tenant_id=self._doc["tenant_id"], traceparent=self._traceparent
        )
        self.entries.append(outbox_entry(topic, key or self._doc["_id"], envelope))

    def _identity(self) -> dict[str, Any]:
        doc = self._doc
        return {
            "execution_id": doc["_id"],
            "tenant_id": doc["tenant_id"],
            "workflow_id": doc["workflow_id"],
            "workflow_version": doc["workflow_version"],
        }

    def started(self, at: datetime) -> None:
        self.emit(
            topics.EXECUTIONS,
            ExecutionStarted(**self._identity(), trigger_id=self._doc["trigger_id"], started_at=at),
        )

    def stepped(self, runs: list[Document]) -> None:
        """One NodesStepped for the node runs of this command (``step._node_run_doc``s)."""
        doc = self._doc
        self.emit(
            topics.NODE_STEPS,
            NodesStepped(
                execution_id=doc["_id"],
                tenant_id=doc["tenant_id"],
                workflow_id=doc["workflow_id"],
                steps=[
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
                ],
            ),
        )

    def waiting(self, waiting_for: list[WaitingFor], since: datetime) -> None:
        self.emit(
            topics.EXECUTIONS,
            ExecutionWaiting(**self._identity(), waiting_for=waiting_for, since=since),
        )

    def completed(self, started: datetime, at: datetime, elapsed_ms: int) -> None:
        self.emit(
            topics.EXECUTIONS,
            ExecutionCompleted(
                **self._identity(),
                started_at=started,
                completed_at=at,
                execution_time_ms=elapsed_ms,
                executed_nodes=self._doc["executed_nodes"],
            ),
        )

    def failed(self, started: datetime, at: datetime, elapsed_ms: int, error: Document) -> None:
        self.emit(
            topics.EXECUTIONS,
            ExecutionFailed(
                **self._identity(),
                started_at=started,
                failed_at=at,
                execution_time_ms=elapsed_ms,
                node_id=error.get("node_id"),
                message=str(error.get("message", "failed")),
            ),
        )

    def cancelled(self, started: datetime | None, at: datetime, reason: str) -> None:
        self.emit(
            topics.EXECUTIONS,
            ExecutionCancelled(
                **self._identity(), started_at=started, cancelled_at=at, reason=reason
            ),
        )
