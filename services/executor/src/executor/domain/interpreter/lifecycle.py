"""The interpreter's entry points: start an execution, advance it, deliver effect results.

Pure: the runtime passes the clock in, persists `ExecutionState` (plain JSON via `to_dict`),
publishes the effects and node runs each step reports, and calls `deliver` when a result
comes back. In-process nodes (conditions, variables, loops, A/B, joins) run inside `advance`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from executor.domain.interpreter.compiler import CompiledNode, CompiledWorkflow
from executor.domain.interpreter.graph_paths import LOOP_FRAME, TRY_FRAME, Paths
from executor.domain.interpreter.records import (
    Effect,
    ExecutionStatus,
    NodeRun,
    RunStatus,
    StepOutcome,
)
from executor.domain.interpreter.state import Activation, ExecutionState
from executor.domain.nodes.contract import (
    Control,
    NodeContext,
    NodeFailed,
    NodeOutcome,
    RetryPolicy,
)
from executor.domain.nodes.registry import CATALOGUE

DEFAULT_MAX_NODE_RUNS = 100_000
_SCOPES = ("workflow", "conversation", "global")


class NoMatchingTrigger(ValueError):
    """The workflow has no trigger node for the context's trigger type."""


class EffectNotWaiting(KeyError):
    """`deliver` named an effect this execution is not waiting for (unknown, or delivered)."""


def start(workflow: CompiledWorkflow, context: dict[str, Any]) -> ExecutionState:
    """A new execution at the trigger nodes matching `context["trigger"]["type"]`.

    The state takes ownership of `context` (it is mutated as the workflow runs). Missing variable
    scopes are created; the workflow's configuration nodes are added to `resources`.
    """
    variables = context.setdefault("variables", {})
    for scope in _SCOPES:
        if not isinstance(variables.get(scope), dict):
            variables[scope] = {}
    resources = context.get("resources")
    if not isinstance(resources, dict):
        resources = context["resources"] = {}
    for name, settings in workflow.resources.items():
        resources.setdefault(name, settings)
    trigger_type = str((context.get("trigger") or {}).get("type") or workflow.trigger_type)
    kind = CATALOGUE.trigger_for(trigger_type)
    starts = workflow.triggers.get(kind.name, ()) if kind is not None else ()
    if not starts:
        raise NoMatchingTrigger(f"workflow {workflow.name!r} has no {trigger_type!r} trigger")
    return ExecutionState(context=context, frontier=deque([Activation(n) for n in starts]))


def refusal(
    workflow: CompiledWorkflow, trigger_type: str, trigger: Mapping[str, Any]
) -> str | None:
    """Why a trigger of this type (its facts: the payload, with its channel) starts no
    execution of the workflow, or None when one of its trigger nodes admits it (each trigger
    kind's filter: channels, numbers, stores, intent and confidence, score, policy)."""
    kind = CATALOGUE.trigger_for(trigger_type)
    starts = workflow.triggers.get(kind.name, ()) if kind is not None else ()
    if kind is None or not starts:
        return f"the workflow has no {trigger_type!r} trigger"
    reasons = []
    for node_id in starts:
        reason = kind.admits(workflow.nodes[node_id].config, trigger) if kind.admits else None
        if reason is None:
            return None
        reasons.append(reason if len(starts) == 1 else f"{node_id}: {reason}")
    return "; ".join(reasons)


@dataclass(frozen=True)
class Routing:
    """What a customer's message does while its conversation has a run of the workflow."""

    while_running: str = "queue"
    burst_seconds: float = 3.0
    while_with_agent: str = "pause"


def routing(workflow: CompiledWorkflow) -> Routing:
    """The policy of the workflow's (first) Incoming Message trigger; the default otherwise."""
    for node_id in workflow.triggers.get("trigger.incoming_message", ()):
        config = workflow.nodes[node_id].config
        return Routing(
            getattr(config, "whileRunning", "queue"),
            getattr(config, "burstSeconds", 3.0),
            getattr(config, "whileWithAgent", "pause"),
        )
    return Routing()


def deliver(
    workflow: CompiledWorkflow,
    state: ExecutionState,
    effect_id: str,
    result: dict[str, Any] | None = None,
    error: dict[str, Any] | None = None,
) -> ExecutionState:
    """Resume the path suspended on `effect_id`; the next `advance` runs the node again.

    With `error` the node fails (retry policy, then its error edge, the enclosing Try/Catch, or
    the execution fails). Raises EffectNotWaiting for an id that is not outstanding.
    """
    activation = state.waiting.pop(effect_id, None)
    if activation is None:
        raise EffectNotWaiting(effect_id)
    activation.effect_id = effect_id
    activation.result = {} if result is None and error is None else result
    activation.error = error
    state.frontier.append(activation)
    state.status = ExecutionStatus.RUNNING
    return state


def abort(state: ExecutionState, error: dict[str, Any]) -> list[str]:
    """Stop an execution from outside (a time limit, a cancellation): nothing else runs.

    Returns the effect ids it was waiting on, so their requests and timers can be cancelled."""
    cancelled = list(state.waiting)
    state.waiting.clear()
    state.frontier.clear()
    state.frames.clear()
    state.joins.clear()
    state.retry_from = None
    state.error = error
    state.status = ExecutionStatus.FAILED
    return cancelled


class NotRetryable(ValueError):
    """`retry` on an execution that did not fail at a node."""


def retry(workflow: CompiledWorkflow, state: ExecutionState) -> ExecutionState:
    """Run a failed execution again from the node that failed (a fresh attempt, new effect ids).

    Only that node's path resumes: paths that were running in parallel when the execution
    failed were cancelled then and stay cancelled."""
    if state.status is not ExecutionStatus.FAILED or state.retry_from is None:
        raise NotRetryable("only an execution that failed at a node can be retried")
    failed = Activation.from_dict(state.retry_from)
    if failed.node_id not in workflow.nodes:
        raise NotRetryable(f"node {failed.node_id!r} is not in this workflow version")
    state.frontier.append(Activation(failed.node_id, failed.scope))
    state.retry_from = None
    state.error = None
    state.status = ExecutionStatus.RUNNING
    return state


async def advance(
    workflow: CompiledWorkflow,
    state: ExecutionState,
    *,
    now: Callable[[], datetime],
    max_steps: int = 10_000,
) -> StepOutcome:
    """Run in-process nodes until every path has ended or is suspended, or `max_steps` ran.

    The status is `running` when the budget ran out (call again), `waiting` when every live
    path waits for an effect, `completed` or `failed` at the end.
    """
    outcome = StepOutcome(status=state.status)
    if state.finished:
        return outcome
    stepper = _Stepper(workflow, state, now, outcome)
    frontier = state.frontier
    limit = _limit(state.context, "maxNodeRuns", DEFAULT_MAX_NODE_RUNS)
    steps = 0
    while frontier and steps < max_steps:
        if state.node_runs >= limit:
            stepper.paths.fail(
                {"message": f"execution exceeded {limit} node runs", "code": "limit"}
            )
            break
        steps += 1
        state.node_runs += 1
        await stepper.run(frontier.popleft())
        if state.status is ExecutionStatus.FAILED:
            break
    if state.status is not ExecutionStatus.FAILED:
        if frontier:
            state.status = ExecutionStatus.RUNNING
        elif state.waiting:
            state.status = ExecutionStatus.WAITING
        else:
            state.status = ExecutionStatus.COMPLETED
            state.joins.clear()
    outcome.status = state.status
    outcome.error = state.error
    return outcome


def _limit(context: Mapping[str, Any], name: str, default: int) -> int:
    value = ((context.get("resources") or {}).get("limits") or {}).get(name, default)
    return value if isinstance(value, int) and value > 0 else default


def _failure(node: CompiledNode, error: BaseException) -> dict[str, Any]:
    if isinstance(error, NodeFailed):
        message, code = error.message, error.code
    else:
        message, code = f"{type(error).__name__}: {error}", "internal"
    return {"nodeId": node.id, "label": node.label, "message": message, "code": code}


class _Stepper:
    """Runs one activation at a time for `advance`."""

    __slots__ = ("now", "outcome", "paths", "state", "workflow")

    def __init__(
        self,
        workflow: CompiledWorkflow,
        state: ExecutionState,
        now: Callable[[], datetime],
        outcome: StepOutcome,
    ) -> None:
        self.workflow = workflow
        self.state = state
        self.now = now
        self.outcome = outcome
        self.paths = Paths(workflow, state, outcome)

    async def run(self, activation: Activation) -> None:
        # The hot path of the engine: no validation, no copies beyond the rendered values.
        node = self.workflow.nodes[activation.node_id]
        state = self.state
        node_id = node.id
        count = activation.activation
        if count == 0:  # a new activation (resumes and retries keep theirs)
            count = state.activations.get(node_id, 0) + 1
            state.activations[node_id] = count
        now = self.now
        started = now()
        context = state.context
        template = node.template
        if template is None:
            values: Mapping[str, Any] = node.raw_config
            config, missing = node.config, cast(tuple[str, ...], ())
        else:
            rendered = template.render(context)
            config = node.resolved(rendered.value)
            values, missing = {**node.raw_config, **rendered.value}, rendered.missing
        failed = activation.error if activation.effect_id is not None else None
        ctx = NodeContext(
            node_id,
            node.label,
            context,
            now,
            count,
            activation.result if activation.effect_id is not None and failed is None else None,
            None if node.kind.control is None else self._frame(node, activation),
            node.wired_ports,
            node.inbound,
            activation.attempt,
        )
        run = NodeRun(
            node_id,
            node.label,
            node.kind.name,
            count,
            RunStatus.COMPLETED,
            None,
            values,
            None,
            started,
            started,
            None,
            missing,
        )
        self.outcome.node_runs.append(run)
        try:
            if failed is not None:
                raise NodeFailed(
                    str(failed.get("message", "effect failed")),
                    code=str(failed.get("code") or failed.get("type") or "effect_failed"),
                    details=failed,
                )
            result = await node.kind.execute(ctx, config)
        except Exception as error:
            self._failed(node, activation, count, run, _failure(node, error))
            return
        run.finished_at = now()
        run.output = result.output
        if result.request is not None:
            self._suspend(node, activation, count, run, result)
            return
        run.port = port = result.port
        if node.kind.control is None:
            self.paths.follow(activation.scope, node.routes.get(port, ()) if port else ())
        else:
            self._route(node, activation, count, ctx, result)

    def _frame(self, node: CompiledNode, activation: Activation) -> dict[str, Any] | None:
        control = node.kind.control
        if control is None:
            return None
        if control is Control.LOOP:
            return self.paths.loop_data(activation)
        if control is Control.JOIN:
            key = self.paths.join_key(node, activation.scope)
            return self.state.joins.setdefault(key, {"arrived": 0})
        return {"error": activation.error} if activation.error is not None else {}

    def _suspend(
        self,
        node: CompiledNode,
        activation: Activation,
        count: int,
        run: NodeRun,
        result: NodeOutcome,
    ) -> None:
        kind = node.kind
        if kind.effect is None:
            self._failed(node, activation, count, run, _failure(node, TypeError("no effect kind")))
            return
        attempt = activation.attempt
        if activation.effect_id is not None:
            attempt += 1  # asked again after its result came: a new effect
        effect_id = f"{node.id}:{count}:{attempt}"
        retry = getattr(node.config, "retry", None)
        delay = 0.0
        if attempt > 1 and retry is not None:
            delay = retry.delay_before(attempt)
        assert result.request is not None
        self.outcome.effects.append(
            Effect(
                effect_id,
                node.id,
                kind.name,
                kind.effect,
                result.request,
                kind.awaits_result,
                attempt,
                delay,
            )
        )
        self.state.waiting[effect_id] = Activation(
            node.id, activation.scope, activation=count, attempt=attempt
        )
        run.status = RunStatus.WAITING
        run.effect_id = effect_id

    def _route(
        self,
        node: CompiledNode,
        activation: Activation,
        count: int,
        ctx: NodeContext,
        result: NodeOutcome,
    ) -> None:
        port = result.port
        control = node.kind.control
        paths = self.paths
        if control is Control.LOOP:
            if port == "body":
                paths.open_frame(node, activation, count, LOOP_FRAME, port, ctx.frame)
                return
            paths.close_loop(activation)
        elif control is Control.TRY and port == "try":
            paths.open_frame(node, activation, count, TRY_FRAME, port, None)
            return
        elif control is Control.JOIN:
            key = paths.join_key(node, activation.scope)
            arrivals = self.state.joins.get(key)
            if arrivals is not None and arrivals["arrived"] >= max(node.inbound, 1):
                del self.state.joins[key]
        paths.follow(activation.scope, node.routes.get(port, ()) if port is not None else ())

    def _failed(
        self,
        node: CompiledNode,
        activation: Activation,
        count: int,
        run: NodeRun,
        error: dict[str, Any],
    ) -> None:
        run.status = RunStatus.FAILED
        run.error = error
        run.finished_at = self.now()
        retry: RetryPolicy | None = getattr(node.config, "retry", None)
        if (
            activation.effect_id is not None
            and retry is not None
            and retry.retries(str(error.get("code")), activation.attempt)
        ):
            run.output = {"retrying": activation.attempt + 1}
            self.state.frontier.appendleft(
                Activation(
                    node.id, activation.scope, activation=count, attempt=activation.attempt + 1
                )
            )
            return
        run.port = self.paths.catch(node, activation, error) or None
