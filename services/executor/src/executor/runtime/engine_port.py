"""The runtime's view of the pure engine (executor.domain): compile, run, validate, and which
parts of the state the history API shows (how it is stored: adapters.execution_documents)."""

from __future__ import annotations

from typing import Any

from executor.domain.interpreter import (
    CompiledWorkflow,
    Effect,
    EffectNotWaiting,
    ExecutionState,
    NodeRun,
    NoMatchingTrigger,
    NotRetryable,
    Routing,
    abort,
    advance,
    compile_workflow,
    deliver,
    refusal,
    retry,
    routing,
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
    "Routing",
    "abort",
    "advance",
    "compile_workflow",
    "deliver",
    "refusal",
    "retry",
    "routing",
    "start",
    "validate_definition",
    "visible_variables",
]


def scope_variables(state: ExecutionState) -> dict[str, Any]:
    """Every scope of the execution's variables (workflow, conversation, global)."""
    variables: dict[str, Any] = state.context.get("variables", {})
    return variables


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
