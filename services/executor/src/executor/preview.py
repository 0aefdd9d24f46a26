"""Preview: run a workflow in-process, answering its effects from mocks instead of the world.

Nothing is sent: every effect request is recorded and answered at once from `mocks` (by node
id) or a stub. A mock is the result JSON; `{"$error": {...}}` answers with an error and
`{"$wait": true}` leaves the effect unanswered (the preview then ends `waiting`). Repeating a
node's mock queues several answers (for a node inside a loop); the last one is reused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from executor.domain.interpreter import (
    CompiledWorkflow,
    ExecutionState,
    ExecutionStatus,
    RunStatus,
    advance,
    deliver,
    refusal,
    start,
)

STUB_RESULT: dict[str, Any] = {}
_MAX_ROUNDS = 100_000
_ROUND_STEPS = 10_000


class PreviewLimitReached(Exception):
    """The preview stopped before the run ended: it ran out of time or of node runs."""

    def __init__(self, limit: str, value: float) -> None:
        self.limit, self.value = limit, value
        what = f"{value:g} s" if limit == "seconds" else f"{value:g} node runs"
        super().__init__(f"the preview stopped after {what}, its limit")


class _Mocks:
    def __init__(self, mocks: Mapping[str, Sequence[Any]]) -> None:
        self._queues = {node_id: list(answers) for node_id, answers in mocks.items()}

    def answer(self, node_id: str) -> Any:
        queue = self._queues.get(node_id)
        if not queue:
            return STUB_RESULT
        return queue.pop(0) if len(queue) > 1 else queue[0]


def preview_context(
    workflow: CompiledWorkflow,
    *,
    trigger_type: str,
    payload: Mapping[str, Any],
    customer: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None,
    started_at: datetime,
) -> dict[str, Any]:
    given = dict(variables or {})
    return {
        "execution": {
            "id": "preview",
            "workflowId": workflow.name or "preview",
            "tenantId": "preview",
            "startedAt": started_at.isoformat(),
        },
        "trigger": {"type": trigger_type, "source": dict(payload)},
        "variables": {scope: dict(given.get(scope) or {}) for scope in _SCOPES},
        "customer": dict(customer) if customer is not None else None,
        "resources": {},
    }


_SCOPES = ("workflow", "conversation", "global")


async def run_preview(
    workflow: CompiledWorkflow,
    context: dict[str, Any],
    *,
    mocks: Mapping[str, Sequence[Any]],
    now: Callable[[], datetime],
    max_node_runs: int | None = None,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Run to the end (or to an unanswered effect) and report as `connectflo preview` prints;
    status `not_started` with the reason when the workflow's trigger node does not admit the
    trigger (its filter), as the executor decides.

    PreviewLimitReached when the run needs more than ``max_node_runs`` node runs, or is still
    going after ``timeout_seconds`` (checked between rounds of node runs)."""
    trigger = context["trigger"]
    reason = refusal(workflow, trigger["type"], trigger["source"])
    if reason is not None:
        return {
            "status": "not_started",
            "not_started": reason,
            "executed": [],
            "variables": {},
            "effects": [],
            "error": None,
        }
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    state = start(workflow, context)
    answers = _Mocks(mocks)
    executed: list[dict[str, Any]] = []
    by_activation: dict[tuple[str, int], dict[str, Any]] = {}
    effects: list[dict[str, Any]] = []
    for _ in range(_MAX_ROUNDS):
        steps = _ROUND_STEPS
        if max_node_runs is not None:
            steps = min(steps, max_node_runs - state.node_runs)
            if steps <= 0:
                raise PreviewLimitReached("node_runs", max_node_runs)
        if deadline is not None and time.monotonic() > deadline:
            raise PreviewLimitReached("seconds", timeout_seconds or 0)
        step = await advance(workflow, state, now=now, max_steps=steps)
        for run in step.node_runs:
            key = (run.node_id, run.activation)
            entry = by_activation.get(key)
            if entry is None or entry["status"] != RunStatus.WAITING:
                entry = {"node_id": run.node_id, "label": run.label, "kind": run.kind}
                executed.append(entry)
                by_activation[key] = entry
            entry["status"], entry["port"] = str(run.status), run.port
        answered = False
        for effect in step.effects:
            effects.append(
                {"node_id": effect.node_id, "kind": effect.kind, "request": effect.request}
            )
            answered |= _answer(workflow, state, effect.effect_id, answers.answer(effect.node_id))
        if step.status is not ExecutionStatus.RUNNING and not answered:
            break
    return _report(state, executed, effects)


def _answer(workflow: CompiledWorkflow, state: ExecutionState, effect_id: str, mock: Any) -> bool:
    if isinstance(mock, dict) and mock.get("$wait"):
        return False
    if isinstance(mock, dict) and "$error" in mock:
        error = mock["$error"]
        error = error if isinstance(error, dict) else {"message": str(error)}
        deliver(workflow, state, effect_id, error=error)
    else:
        deliver(
            workflow, state, effect_id, result=mock if isinstance(mock, dict) else {"value": mock}
        )
    return True


def _report(
    state: ExecutionState, executed: list[dict[str, Any]], effects: list[dict[str, Any]]
) -> dict[str, Any]:
    variables = state.context["variables"]
    error = None
    if state.error is not None:
        error = {"node_id": state.error.get("nodeId"), "message": state.error.get("message")}
    return {
        "status": str(state.status),
        "executed": executed,
        "variables": {"workflow": variables["workflow"], "conversation": variables["conversation"]},
        "effects": effects,
        "error": error,
    }
