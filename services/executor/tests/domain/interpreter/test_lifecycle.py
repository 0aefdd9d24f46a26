"""start / advance / deliver as the durable runtime drives them, with the state round-tripped."""

import json
from datetime import UTC, datetime

import pytest
from executor.domain.interpreter import (
    EffectNotWaiting,
    ExecutionState,
    ExecutionStatus,
    NoMatchingTrigger,
    RunStatus,
    advance,
    compile_workflow,
    deliver,
    start,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def context(payload: dict | None = None) -> dict:
    return {
        "execution": {
            "id": "ex1",
            "workflowId": "wf1",
            "tenantId": "t1",
            "startedAt": NOW.isoformat(),
        },
        "trigger": {"type": "Incoming Message", "source": payload or {"text": "where is order 7"}},
        "variables": {"workflow": {}, "conversation": {}, "global": {}},
        "customer": {"name": "Ann"},
        "resources": {},
    }


def order_bot(workflow) -> dict:
    return workflow(
        [
            ("t", "trigger", "Incoming Message", {}),
            (
                "shop",
                "integration",
                "Shopify",
                {"action": "getOrder", "orderId": "7", "outputVariable": "order"},
            ),
            (
                "reply",
                "action",
                "Send Reply",
                {"message": "{{customer.name}}: {{workflow.order.status}}"},
            ),
        ],
        [("t", "shop"), ("shop", "reply")],
    )


def roundtrip(state: ExecutionState) -> ExecutionState:
    return ExecutionState.from_dict(json.loads(json.dumps(state.to_dict())))


async def test_an_effect_suspends_the_path_until_its_result_is_delivered(workflow):
    compiled = compile_workflow(order_bot(workflow))
    state = start(compiled, context())

    first = await advance(compiled, state, now=clock, max_steps=100)

    assert first.status is ExecutionStatus.WAITING
    assert [(run.node_id, run.status) for run in first.node_runs] == [
        ("t", RunStatus.COMPLETED),
        ("shop", RunStatus.WAITING),
    ]
    [effect] = first.effects
    assert effect.effect_id == "shop:1:1"
    assert effect.request == {
        "integration": "shopify",
        "action": "getOrder",
        "params": {"orderId": "7"},
        "outputVariable": "order",
    }
    assert effect.awaits_result is True

    state = roundtrip(state)
    deliver(compiled, state, "shop:1:1", result={"status": "shipped"})
    second = await advance(compiled, state, now=clock, max_steps=100)

    assert [(run.node_id, run.status) for run in second.node_runs] == [
        ("shop", RunStatus.COMPLETED),
        ("reply", RunStatus.WAITING),
    ]
    assert second.effects[0].request["message"] == "Ann: shipped"
    assert second.effects[0].awaits_result is False
    deliver(compiled, state, second.effects[0].effect_id, result=None)
    third = await advance(compiled, state, now=clock, max_steps=100)
    assert third.status is ExecutionStatus.COMPLETED
    assert state.context["variables"]["workflow"]["order"] == {"status": "shipped"}


async def test_delivering_twice_is_refused(workflow):
    compiled = compile_workflow(order_bot(workflow))
    state = start(compiled, context())
    await advance(compiled, state, now=clock, max_steps=100)
    deliver(compiled, state, "shop:1:1", result={})

    with pytest.raises(EffectNotWaiting):
        deliver(compiled, state, "shop:1:1", result={})


async def test_an_effect_error_without_handler_fails_the_execution(workflow):
    compiled = compile_workflow(order_bot(workflow))
    state = start(compiled, context())
    await advance(compiled, state, now=clock, max_steps=100)

    deliver(compiled, state, "shop:1:1", error={"message": "Shopify said 404", "code": "not_found"})
    outcome = await advance(compiled, state, now=clock, max_steps=100)

    assert outcome.status is ExecutionStatus.FAILED
    assert outcome.error == {
        "nodeId": "shop",
        "label": "Shopify",
        "message": "Shopify said 404",
        "code": "not_found",
    }
    assert outcome.node_runs[-1].status is RunStatus.FAILED


async def test_the_step_budget_leaves_the_execution_running(workflow):
    compiled = compile_workflow(
        workflow(
            [("t", "trigger", "Incoming Message", {})]
            + [
                (f"s{i}", "action", "Set Variable", {"path": "workflow.n", "value": i})
                for i in range(5)
            ],
            [("t", "s0")] + [(f"s{i}", f"s{i + 1}") for i in range(4)],
        )
    )
    state = start(compiled, context())

    first = await advance(compiled, state, now=clock, max_steps=3)
    assert first.status is ExecutionStatus.RUNNING
    assert len(first.node_runs) == 3

    state = roundtrip(state)
    second = await advance(compiled, state, now=clock, max_steps=100)
    assert second.status is ExecutionStatus.COMPLETED
    assert [run.node_id for run in second.node_runs] == ["s2", "s3", "s4"]
    assert state.context["variables"]["workflow"]["n"] == 4


async def test_a_trigger_type_the_workflow_lacks_is_refused(workflow):
    compiled = compile_workflow(order_bot(workflow))
    ctx = context()
    ctx["trigger"]["type"] = "New Order"

    with pytest.raises(NoMatchingTrigger):
        start(compiled, ctx)


async def test_node_runs_record_resolved_input_and_missing_paths(workflow):
    compiled = compile_workflow(
        workflow(
            [
                ("t", "trigger", "Incoming Message", {}),
                (
                    "r",
                    "action",
                    "Send Reply",
                    {"message": "Hi {{customer.name}} {{customer.nope}}"},
                ),
            ],
            [("t", "r")],
        )
    )
    state = start(compiled, context())

    outcome = await advance(compiled, state, now=clock, max_steps=10)

    reply = outcome.node_runs[1]
    assert reply.input["message"] == "Hi Ann {{customer.nope}}"
    assert reply.missing_paths == ("customer.nope",)
    assert reply.started_at == NOW


async def test_recorded_outputs_do_not_change_when_variables_change_later(workflow):
    compiled = compile_workflow(
        workflow(
            [
                ("t", "trigger", "Incoming Message", {}),
                (
                    "shop",
                    "integration",
                    "Shopify",
                    {"action": "searchOrders", "outputVariable": "o"},
                ),
                (
                    "set",
                    "action",
                    "Set Variable",
                    {"path": "workflow.o.status", "value": "changed"},
                ),
            ],
            [("t", "shop"), ("shop", "set")],
        )
    )
    state = start(compiled, context())
    await advance(compiled, state, now=clock, max_steps=10)
    deliver(compiled, state, "shop:1:1", result={"status": "open"})

    outcome = await advance(compiled, state, now=clock, max_steps=10)

    assert outcome.node_runs[0].output == {"status": "open"}
    assert state.context["variables"]["workflow"]["o"] == {"status": "changed"}


async def test_a_loop_suspended_on_effects_survives_json_between_every_step(workflow):
    compiled = compile_workflow(
        workflow(
            [
                ("t", "trigger", "Incoming Message", {}),
                ("loop", "logic", "Loop", {"type": "forEach", "arrayPath": "trigger.skus"}),
                (
                    "inv",
                    "integration",
                    "Shopify",
                    {"action": "updateInventory", "sku": "{{workflow.item}}", "delta": -1},
                ),
                ("reply", "action", "Send Reply", {"message": "done {{workflow.index}}"}),
            ],
            [("t", "loop"), ("loop", "inv", "body"), ("inv", "loop"), ("loop", "reply", "done")],
        )
    )
    state = start(compiled, context({"skus": ["A", "B", "C"]}))
    requested = []
    for _ in range(10):
        outcome = await advance(compiled, state, now=clock, max_steps=100)
        if outcome.status is ExecutionStatus.COMPLETED:
            break
        state = roundtrip(state)
        for effect in outcome.effects:
            requested.append((effect.effect_id, effect.request.get("params", effect.request)))
            deliver(compiled, state, effect.effect_id, result={})

    assert outcome.status is ExecutionStatus.COMPLETED
    assert requested == [
        ("inv:1:1", {"sku": "A", "delta": -1}),
        ("inv:2:1", {"sku": "B", "delta": -1}),
        ("inv:3:1", {"sku": "C", "delta": -1}),
        ("reply:1:1", {"channel": "chat", "message": "done 2", "conversationId": "ex1"}),
    ]
    assert state.frames == {}
