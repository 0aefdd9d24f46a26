"""What an advance step reports: node runs, effect requests, the execution's status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from executor.domain.nodes.contract import EffectTarget


class ExecutionStatus(StrEnum):
    RUNNING = "running"  # in-process work remains (the step budget ran out)
    WAITING = "waiting"  # every live path waits for an effect result
    COMPLETED = "completed"
    FAILED = "failed"


class RunStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"
    WAITING = "waiting"  # the node asked for an effect; a later run completes it
    SKIPPED = "skipped"


@dataclass(slots=True)
class NodeRun:
    """One run of one node. `input` is the node's config with every template resolved.

    A node that requests an effect has two runs with the same `activation`: `waiting` (with the
    `effect_id`) and, after the result is delivered, `completed` or `failed`. A node without
    placeholders records its compiled config itself as `input`: treat runs as read-only and
    serialise them, never mutate them.
    """

    node_id: str
    label: str
    kind: str
    activation: int
    status: RunStatus
    port: str | None
    input: Any
    output: Any
    started_at: datetime
    finished_at: datetime
    error: dict[str, Any] | None = None
    missing_paths: tuple[str, ...] = ()
    effect_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "label": self.label,
            "kind": self.kind,
            "activation": self.activation,
            "status": str(self.status),
            "port": self.port,
            "input": self.input,
            "output": self.output,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "error": self.error,
            "missing_paths": list(self.missing_paths),
            "effect_id": self.effect_id,
        }


@dataclass(frozen=True, slots=True)
class Effect:
    """A request for the outside world. The path stays suspended until `deliver(effect_id)`.

    `effect_id` is `<node id>:<activation>:<attempt>`, unique within the execution; the runtime
    derives the idempotency key `execution_id:node_id:attempt` from it. `awaits_result` False
    means the result carries no data the workflow needs (a reply, a tag): the runtime may
    deliver `None` as soon as the request is safely published. `delay_seconds` is the back-off
    before a retried attempt.
    """

    effect_id: str
    node_id: str
    kind: str
    target: EffectTarget
    request: dict[str, Any]
    awaits_result: bool
    attempt: int = 1
    delay_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "effect_id": self.effect_id,
            "node_id": self.node_id,
            "kind": self.kind,
            "target": str(self.target),
            "request": self.request,
            "awaits_result": self.awaits_result,
            "attempt": self.attempt,
            "delay_seconds": self.delay_seconds,
        }


@dataclass(slots=True)
class StepOutcome:
    """The result of `advance`: what ran, what to request, what to stop waiting for."""

    status: ExecutionStatus
    node_runs: list[NodeRun] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    cancelled_effects: list[str] = field(default_factory=list)
    error: dict[str, Any] | None = None
