"""Retry from the failed node: a failed execution runs that node again, inside its loop."""

import json
from datetime import UTC, datetime

import pytest
from executor.domain.interpreter import (
    ExecutionState,
    ExecutionStatus,
    NotRetryable,
    advance,
    compile_workflow,
    deliver,
    retry,
    start,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)
LOOP_WITH_LOOKUP = {
    "name": "lookup each",
    "triggerType": "New Order",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "New Order", "config": {}},
        {
            "id": "loop",
            "type": "logic",
            "label": "Loop",
            "config": {"type": "forEach", "arrayPath": "trigger.items"},
        },
        {
            "id": "shop",
            "type": "integration",
            "label": "Shopify",
            "config": {"action": "getOrder", "orderId": "{{workflow.item}}"},
        },
        {
            "id": "count",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.looked_up", "operation": "increment"},
        },
        {
            "id": "done",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.finished", "value": True},
        },
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "loop"},
        {"id": "e2", "source": "loop", "target": "shop", "label": "body"},
        {"id": "e3", "source": "shop", "target": "count"},
        {"id": "e4", "source": "loop", "target": "done", "label": "done"},
    ],
}


def clock() -> datetime:
    return NOW


def context() -> dict:
    return {
        "execution": {"id": "ex1", "workflowId": "wf1", "tenantId": "t1"},
        "trigger": {"type": "New Order", "source": {"items": ["a", "b", "c"]}},
        "variables": {"workflow": {}, "conversation": {}, "global": {}},
        "customer": None,
        "resources": {},
    }


def round_trip(state: ExecutionState) -> ExecutionState:
    return ExecutionState.from_dict(json.loads(json.dumps(state.to_dict())))


async def test_retry_runs_the_failed_node_again_and_the_loop_carries_on() -> None:
    workflow = compile_workflow(LOOP_WITH_LOOKUP)
    state = start(workflow, context())
    looked_up: list[str] = []
    failed_once = False
    while True:
        outcome = await advance(workflow, state, now=clock)
        state = round_trip(state)
        if state.status is ExecutionStatus.COMPLETED:
            break
        if state.status is ExecutionStatus.FAILED:
            assert not failed_once
            failed_once = True
            assert state.error is not None
            state = round_trip(retry(workflow, state))
            continue
        (effect,) = outcome.effects
        order = effect.request["params"]["orderId"]
        if order == "b" and not failed_once:
            deliver(workflow, state, effect.effect_id, error={"message": "shopify down"})
        else:
            looked_up.append(order)
            deliver(workflow, state, effect.effect_id, result={"id": order})
    assert failed_once
    assert looked_up == ["a", "b", "c"]
    assert state.context["variables"]["workflow"]["looked_up"] == 3
    assert state.context["variables"]["workflow"]["finished"] is True


async def test_only_a_failed_execution_can_be_retried() -> None:
    workflow = compile_workflow(LOOP_WITH_LOOKUP)
    state = start(workflow, context())
    await advance(workflow, state, now=clock)
    with pytest.raises(NotRetryable):
        retry(workflow, state)
