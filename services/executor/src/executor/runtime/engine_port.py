"""The runtime's view of the pure engine (executor.domain): compile, run, store, validate.

One place that knows how engine state is stored (JSON text, see docs/architecture.md) and which
parts of it the history API shows."""

from __future__ import annotations

import json
from typing import Any

from executor.domain.interpreter import (
    CompiledWorkflow,
    Effect,
    EffectNotWaiting,
    ExecutionState,
    NodeRun,
    NoMatchingTrigger,
    NotRetryable,
    abort,
    advance,
    compile_workflow,
    deliver,
    retry,
    start,
)
from executor.domain.nodes.contract import EffectTarget
from executor.domain.validation import validate_workflow

__all__ = [
    "CompiledWorkflow",
    "Effect",
    "EffectNotWaiting",
    "EffectTarget",
    "ExecutionState",
    "NoMatchingTrigger",
    "NodeRun",
    "NotRetryable",
    "abort",
    "advance",
    "compile_workflow",
    "deliver",
    "dump_state",
    "load_state",
    "retry",
    "start",
    "validate_definition",
    "visible_variables",
]


def dump_state(state: ExecutionState) -> str:
    return json.dumps(state.to_dict(), separators=(",", ":"), default=str)


def load_state(text: str) -> ExecutionState:
    return ExecutionState.from_dict(json.loads(text))


def visible_variables(state: ExecutionState) -> dict[str, Any]:
    """What the history API shows: the workflow and conversation scopes."""
    variables = state.context.get("variables", {})
    return {
        "workflow": variables.get("workflow", {}),
        "conversation": variables.get("conversation", {}),
    }


def validate_definition(definition: object) -> list[dict[str, Any]]:
    """Every problem of a builder definition, as JSON objects."""
    return [problem.to_dict() for problem in validate_workflow(definition)]
