"""The workflow interpreter: compile once per version, then start / advance / deliver.

workflow = compile_workflow(definition)          # raises WorkflowInvalid
state = start(workflow, context)                 # ExecutionState (to_dict / from_dict)
step = await advance(workflow, state, now=clock, max_steps=1000)
... publish step.node_runs and step.effects, persist state.to_dict() ...
deliver(workflow, state, effect_id, result={...})  # or error={...}; then advance again
"""

from executor.domain.interpreter.compiler import (
    CompiledNode,
    CompiledWorkflow,
    WorkflowInvalid,
    compile_workflow,
)
from executor.domain.interpreter.lifecycle import (
    EffectNotWaiting,
    NoMatchingTrigger,
    NotRetryable,
    Routing,
    abort,
    advance,
    deliver,
    refusal,
    retry,
    routing,
    start,
)
from executor.domain.interpreter.records import (
    Effect,
    ExecutionStatus,
    NodeRun,
    RunStatus,
    StepOutcome,
)
from executor.domain.interpreter.state import Activation, ExecutionState, Frame

__all__ = [
    "Activation",
    "CompiledNode",
    "CompiledWorkflow",
    "Effect",
    "EffectNotWaiting",
    "ExecutionState",
    "ExecutionStatus",
    "Frame",
    "NoMatchingTrigger",
    "NodeRun",
    "NotRetryable",
    "Routing",
    "RunStatus",
    "StepOutcome",
    "WorkflowInvalid",
    "abort",
    "advance",
    "compile_workflow",
    "deliver",
    "refusal",
    "retry",
    "routing",
    "start",
]
