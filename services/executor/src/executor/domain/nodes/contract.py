"""What a node kind is: its configuration base, the context it runs in and what it returns."""

from __future__ import annotations

import copy
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from executor.domain.expressions import MISSING, get_path, set_path


class Category(StrEnum):
    TRIGGER = "trigger"
    CONFIGURATION = "config"
    LOGIC = "logic"
    ACTION = "action"
    INTEGRATION = "integration"
    ADVANCED = "advanced"


class EffectTarget(StrEnum):
    """The service that carries out an effect request."""

    NOTIFIER = "notifier"
    INTEGRATIONS = "integrations"
    SCHEDULER = "scheduler"
    EXECUTOR = "executor"


class Control(StrEnum):
    """Nodes the interpreter gives a scope to (a loop body, a protected try branch, a join)."""

    LOOP = "loop"
    TRY = "try"
    JOIN = "join"


class NodeConfig(BaseModel):
    """Base of every node's configuration: parsed once per workflow version."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True)

    # Builder-only fields that carry no semantics.
    description: str | None = None
    notes: str | None = None

    # Fields the interpreter does not interpolate: the node reads them as paths or expressions.
    raw_fields: ClassVar[frozenset[str]] = frozenset()

    def produced_paths(self) -> tuple[str, ...]:
        """Variable paths this node writes (used by validation to check readers)."""
        return ()

    def read_paths(self) -> tuple[str, ...]:
        """Variable paths this node reads outside `{{ }}` templates (conditions, array paths)."""
        return ()

    def output_ports(self, declared: tuple[str, ...]) -> tuple[str, ...]:
        """Ports this configured node can take; most kinds have exactly the declared ones."""
        return declared


class ResourceConfig(NodeConfig):
    """Base of a configuration node's config: settings the workflow places in `resources`."""

    def resource(self) -> tuple[str, dict[str, Any]]:
        """The name under `resources` and the settings placed there."""
        raise NotImplementedError


class RetryPolicy(BaseModel):
    """Re-issue a failed effect request before treating the node as failed (Temporal's shape:
    maximum attempts, initial interval, back-off coefficient, maximum interval, non-retryable
    error types)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    maxAttempts: int = Field(
        default=1, ge=1, le=10, description="Attempts in all, the first one too."
    )
    backoffSeconds: float = Field(default=0.0, ge=0, description="Wait before the second attempt.")
    backoffMultiplier: float = Field(
        default=2.0, ge=1, description="Each next wait is this many times longer."
    )
    maxBackoffSeconds: float | None = Field(
        default=None, gt=0, description="No wait is longer than this."
    )
    nonRetryableErrorTypes: tuple[str, ...] = Field(
        default=(),
        description="Error types that fail the node at once (the error's `type`, e.g. NotFound).",
    )

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2 or more)."""
        delay = self.backoffSeconds * self.backoffMultiplier ** (attempt - 2)
        return delay if self.maxBackoffSeconds is None else min(delay, self.maxBackoffSeconds)

    def retries(self, error_type: str, attempt: int) -> bool:
        """Whether a failure of this type at ``attempt`` gets another attempt."""
        return attempt < self.maxAttempts and error_type not in self.nonRetryableErrorTypes


class EffectConfig(NodeConfig):
    """Base of nodes that ask another service to act."""

    retry: RetryPolicy | None = None


class NodeFailed(Exception):
    """Raised by a node: the run fails and the error port / enclosing Try/Catch takes over."""

    def __init__(self, message: str, *, code: str = "node_failed", details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


@dataclass(slots=True)
class NodeOutcome:
    """The result of one node run.

    `port` names the output taken (None ends this path); `request` asks the runtime for an effect
    and suspends the path at this node until the result is delivered.
    """

    port: str | None = "out"
    output: Any = None
    request: dict[str, Any] | None = None


class NodeContext:
    """Everything a node may touch: the execution context, its own state, the delivered result."""

    __slots__ = (
        "activation",
        "attempt",
        "context",
        "delivered",
        "frame",
        "inbound",
        "label",
        "node_id",
        "now",
        "wired_ports",
    )

    def __init__(
        self,
        node_id: str,
        label: str,
        context: dict[str, Any],
        now: Callable[[], datetime],
        activation: int = 1,
        delivered: dict[str, Any] | None = None,
        frame: dict[str, Any] | None = None,
        wired_ports: frozenset[str] = frozenset(),
        inbound: int = 0,
        attempt: int = 1,
    ) -> None:
        self.node_id = node_id
        self.attempt = attempt
        self.label = label
        self.context = context
        self.now = now
        self.activation = activation
        self.delivered = delivered
        self.frame = frame
        self.wired_ports = wired_ports
        self.inbound = inbound

    def get(self, path: str, default: Any = None) -> Any:
        value = get_path(self.context, path)
        return default if value is MISSING else value

    def set(self, path: str, value: Any) -> None:
        try:
            set_path(self.context, path, value)
        except ValueError as error:
            raise NodeFailed(str(error), code="invalid_path") from error

    def store_result(self, name: str, value: Any) -> None:
        """Store an effect's result in `workflow.<name>`.

        The context gets its own copy, so later writes to the variable cannot change the result
        recorded as this node run's output.
        """
        self.set(f"workflow.{name}", copy.deepcopy(value))

    @property
    def execution(self) -> Mapping[str, Any]:
        execution: Mapping[str, Any] = self.context.get("execution") or {}
        return execution

    @property
    def trigger_payload(self) -> Mapping[str, Any]:
        source = (self.context.get("trigger") or {}).get("source")
        return source if isinstance(source, Mapping) else {}

    def limit(self, name: str, default: int) -> int:
        """A per-tenant limit from `resources.limits`, or the default."""
        limits = (self.context.get("resources") or {}).get("limits") or {}
        value = limits.get(name, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def conversation_key(self) -> str:
        """The id that makes per-conversation decisions sticky (falls back to the execution)."""
        for candidate in (
            self.execution.get("conversationId"),
            self.trigger_payload.get("conversationId"),
            self.execution.get("id"),
        ):
            if isinstance(candidate, str | int) and str(candidate):
                return str(candidate)
        return ""

    def request(self, payload: dict[str, Any], *, output: Any = None) -> NodeOutcome:
        """Suspend this path until the runtime delivers the result of `payload`. Asked again
        after a result was delivered (Wait for Reply's re-prompt), it is the next attempt:
        a new effect, with its own idempotency key."""
        return NodeOutcome(port=None, output=output, request=payload)


Execute = Callable[[NodeContext, Any], Awaitable[NodeOutcome]]
Admits = Callable[[Any, Mapping[str, Any]], str | None]
"""A trigger kind's filter: (its config, the trigger) -> why it does not start, or None."""


@dataclass(frozen=True, slots=True)
class KindMetadata:
    """What `@node_kind` attaches to a module's `execute` function."""

    name: str
    category: Category
    labels: tuple[str, ...]
    ports: tuple[str, ...]
    default_port: str
    effect: EffectTarget | None
    awaits_result: bool
    control: Control | None


def node_kind(
    name: str,
    *,
    labels: tuple[str, ...],
    ports: tuple[str, ...] = ("out",),
    default_port: str | None = None,
    effect: EffectTarget | None = None,
    awaits_result: bool = True,
    control: Control | None = None,
) -> Callable[[Execute], Execute]:
    """Attach catalogue metadata to a node module's `execute`. It registers nothing."""
    category = Category(name.split(".", 1)[0])
    metadata = KindMetadata(
        name=name,
        category=category,
        labels=labels,
        ports=ports,
        default_port=default_port or (ports[0] if ports else "out"),
        effect=effect,
        awaits_result=awaits_result if effect is not None else False,
        control=control,
    )

    def attach(execute: Execute) -> Execute:
        # A function attribute: mypy knows no type with it (the registry reads it with getattr).
        execute.__node_kind__ = metadata  # type: ignore[attr-defined]
        return execute

    return attach


def as_text(value: Any) -> str:
    """Message text from a rendered value: a whole-placeholder template may render to any type."""
    if isinstance(value, str):
        return value
    if value is None or value is MISSING:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
