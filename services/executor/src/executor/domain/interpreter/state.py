"""The execution state: JSON-serialisable, stored by the runtime, advanced by the interpreter.

Paths through the graph are *activations* (a node to run, inside a stack of scopes). A Loop or
Try/Catch node opens a *frame*; activations inside it carry the frame id in their `scope`, and
the frame counts its live paths so it knows when an iteration (or the try branch) has ended.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from executor.domain.interpreter.records import ExecutionStatus


@dataclass(slots=True)
class Activation:
    """A pending run of `node_id`.

    `frame` marks the re-entry of a Loop node for its next iteration. `effect_id` (with
    `result` / `error`) marks the resumption of a node whose effect was answered. An `error`
    without `effect_id` is a Try/Catch re-entered to run its catch branch.
    """

    node_id: str
    scope: tuple[str, ...] = ()
    frame: str | None = None
    effect_id: str | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    activation: int = 0
    attempt: int = 1

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"node_id": self.node_id, "scope": list(self.scope)}
        for name in ("frame", "effect_id", "result", "error"):
            if (value := getattr(self, name)) is not None:
                data[name] = value
        if self.activation:
            data["activation"] = self.activation
        if self.attempt != 1:
            data["attempt"] = self.attempt
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Activation:
        return cls(
            node_id=data["node_id"],
            scope=tuple(data.get("scope", ())),
            frame=data.get("frame"),
            effect_id=data.get("effect_id"),
            result=data.get("result"),
            error=data.get("error"),
            activation=data.get("activation", 0),
            attempt=data.get("attempt", 1),
        )


@dataclass(slots=True)
class Frame:
    """A Loop's iteration or a Try/Catch's protected branch; `live` counts its running paths."""

    id: str
    kind: str  # "loop" | "try"
    node_id: str
    parent: tuple[str, ...]
    live: int = 0
    iteration: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "node_id": self.node_id,
            "parent": list(self.parent),
            "live": self.live,
            "iteration": self.iteration,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frame:
        return cls(
            id=data["id"],
            kind=data["kind"],
            node_id=data["node_id"],
            parent=tuple(data.get("parent", ())),
            live=data.get("live", 0),
            iteration=data.get("iteration", 0),
            data=data.get("data", {}),
        )


@dataclass(slots=True)
class ExecutionState:
    """Everything needed to continue an execution later, in another process."""

    context: dict[str, Any]
    status: ExecutionStatus = ExecutionStatus.RUNNING
    frontier: deque[Activation] = field(default_factory=deque)
    waiting: dict[str, Activation] = field(default_factory=dict)
    frames: dict[str, Frame] = field(default_factory=dict)
    joins: dict[str, dict[str, Any]] = field(default_factory=dict)
    activations: dict[str, int] = field(default_factory=dict)
    node_runs: int = 0
    error: dict[str, Any] | None = None
    retry_from: dict[str, Any] | None = None  # the failed node's activation, for `retry`

    @property
    def finished(self) -> bool:
        return self.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "status": str(self.status),
            "frontier": [activation.to_dict() for activation in self.frontier],
            "waiting": {key: activation.to_dict() for key, activation in self.waiting.items()},
            "frames": {key: frame.to_dict() for key, frame in self.frames.items()},
            "joins": self.joins,
            "activations": self.activations,
            "node_runs": self.node_runs,
            "error": self.error,
            "retry_from": self.retry_from,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionState:
        return cls(
            context=data["context"],
            status=ExecutionStatus(data.get("status", "running")),
            frontier=deque(Activation.from_dict(item) for item in data.get("frontier", ())),
            waiting={k: Activation.from_dict(v) for k, v in data.get("waiting", {}).items()},
            frames={k: Frame.from_dict(v) for k, v in data.get("frames", {}).items()},
            joins=dict(data.get("joins", {})),
            activations=dict(data.get("activations", {})),
            node_runs=data.get("node_runs", 0),
            error=data.get("error"),
            retry_from=data.get("retry_from"),
        )
