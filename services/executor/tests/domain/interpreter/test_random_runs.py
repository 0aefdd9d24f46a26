"""Random valid workflows always terminate, whatever the step budget and JSON round-trips."""

import json
from datetime import UTC, datetime

from executor.domain.interpreter import (
    ExecutionState,
    ExecutionStatus,
    advance,
    compile_workflow,
    deliver,
    start,
)
from executor.domain.validation import Severity, validate_workflow
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

NOW = datetime(2025, 1, 1, tzinfo=UTC)
KINDS = ["set", "condition", "loop", "join", "ab", "try", "shop", "wait"]
PORTS = {
    "condition": ["yes", "no"],
    "loop": ["body", "done"],
    "ab": ["a", "b"],
    "try": ["try", "catch"],
}


def node(node_id: str, kind: str) -> dict:
    made = {
        "set": ("action", "Set Variable", {"path": "workflow.c", "operation": "increment"}),
        "condition": ("condition", "?", {"expression": "workflow.c % 2 == 0", "default": "no"}),
        "loop": ("logic", "Loop", {"type": "count", "count": 2}),
        "join": ("advanced", "Join", {"mode": "any"}),
        "ab": ("logic", "A/B Split", {"variants": [{"name": "a"}, {"name": "b"}]}),
        "try": ("advanced", "Try/Catch", {}),
        "shop": ("integration", "Shopify", {"action": "searchOrders"}),
        "wait": ("logic", "Wait/Delay", {"duration": 5}),
    }[kind]
    return {"id": node_id, "type": made[0], "label": made[1], "config": made[2]}


@st.composite
def workflows(draw):
    size = draw(st.integers(2, 9))
    kinds = ["trigger"] + [draw(st.sampled_from(KINDS)) for _ in range(size - 1)]
    nodes = [{"id": "n0", "type": "trigger", "label": "Incoming Message", "config": {}}]
    nodes += [node(f"n{i}", kind) for i, kind in enumerate(kinds) if i > 0]
    edges = []

    def connect(source: int, target: int, back: bool = False) -> None:
        ports = PORTS.get(kinds[source], [None, None, "error"])
        label = draw(st.sampled_from(ports)) if not back else None
        edges.append(
            {"id": f"e{len(edges)}", "source": f"n{source}", "target": f"n{target}", "label": label}
        )

    for target in range(1, size):
        connect(draw(st.integers(0, target - 1)), target)
        for _ in range(draw(st.integers(0, 2))):
            connect(draw(st.integers(0, target - 1)), target)
    for source in range(1, size):
        if kinds[source] == "loop" and draw(st.booleans()) and source + 1 < size:
            edges.append(
                {
                    "id": f"d{source}",
                    "source": f"n{source}",
                    "target": f"n{size - 1}",
                    "label": "done",
                }
            )
        if draw(st.integers(0, 4)) == 0:  # an edge back to an earlier Loop (allowed from its body)
            loops = [i for i in range(1, source) if kinds[i] == "loop"]
            if loops:
                connect(source, draw(st.sampled_from(loops)), back=True)
    return {"name": "random", "triggerType": "Incoming Message", "nodes": nodes, "edges": edges}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(workflows(), st.integers(1, 6), st.lists(st.booleans(), min_size=1, max_size=8))
async def test_a_valid_workflow_always_finishes(definition, budget, failures):
    assume(not [p for p in validate_workflow(definition) if p.severity is Severity.ERROR])
    compiled = compile_workflow(definition)
    state = start(
        compiled, {"trigger": {"type": "Incoming Message", "source": {"conversationId": "c"}}}
    )
    answered = 0
    for _ in range(5_000):
        outcome = await advance(compiled, state, now=lambda: NOW, max_steps=budget)
        state = ExecutionState.from_dict(json.loads(json.dumps(state.to_dict())))
        if outcome.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED):
            break
        for effect in outcome.effects:
            fail = failures[answered % len(failures)]
            answered += 1
            if effect.effect_id in state.waiting:
                deliver(
                    compiled, state, effect.effect_id, error={"message": "no"} if fail else None
                )
    else:
        raise AssertionError("the execution did not finish")
    assert state.frontier == type(state.frontier)()
    assert state.waiting == {}
    if state.retry_from is None:
        assert state.frames == {}
    else:  # a failure keeps the failed node's frames so `retry` can resume inside them
        assert all(frame.id in state.retry_from["scope"] for frame in state.frames.values())
