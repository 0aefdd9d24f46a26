"""Integrations (one request shape for all twelve) and the advanced nodes."""

import pytest
from executor.domain.nodes.advanced import (
    execute_workflow,
    human_handoff,
    join,
    try_catch,
    wait_for_reply,
)
from executor.domain.nodes.contract import EffectTarget
from executor.domain.nodes.registry import CATALOGUE
from pydantic import ValidationError

INTEGRATIONS = [kind for kind in CATALOGUE if kind.name.startswith("integration.")]
MESSAGING = {
    "integration.slack",
    "integration.teams",
    "integration.twilio_sms",
    "integration.sendgrid",
}


def minimal_config(kind) -> dict:
    model = kind.config_model
    action = model.model_fields["action"].default
    return {"action": action, **{param: "v" for param in model.required_params.get(action, ())}}


@pytest.mark.parametrize("kind", INTEGRATIONS, ids=lambda kind: kind.name)
async def test_an_integration_requests_its_action_and_stores_the_result(node_ctx, kind):
    config = kind.config_model.model_validate({**minimal_config(kind), "outputVariable": "out"})

    asked = await kind.execute(node_ctx(), config)
    ctx = node_ctx(delivered={"ok": True})
    answered = await kind.execute(ctx, config)

    assert asked.request["action"] == config.action
    assert asked.request["outputVariable"] == "out"
    assert set(asked.request["params"]) == set(minimal_config(kind)) - {"action"}
    assert answered.port == "out"
    assert ctx.context["variables"]["workflow"]["out"] == {"ok": True}
    expected = EffectTarget.NOTIFIER if kind.name in MESSAGING else EffectTarget.INTEGRATIONS
    assert kind.effect is expected


@pytest.mark.parametrize("kind", INTEGRATIONS, ids=lambda kind: kind.name)
def test_an_integration_refuses_unknown_actions(kind):
    with pytest.raises(ValidationError):
        kind.config_model.model_validate({"action": "dropAllTables"})


def test_an_integration_action_needs_its_required_parameters():
    shopify = CATALOGUE.get("integration.shopify").config_model

    with pytest.raises(ValidationError, match="getOrder needs orderId"):
        shopify.model_validate({"action": "getOrder"})


def test_a_postgres_query_takes_values_only_as_parameters():
    postgres = CATALOGUE.get("integration.postgres").config_model
    ok = postgres.model_validate(
        {"query": "select * from orders where email = $1", "params": ["{{customer.email}}"]}
    )
    assert "query" in ok.raw_fields and "params" not in ok.raw_fields  # params interpolated
    with pytest.raises(ValidationError, match="query is not interpolated"):
        postgres.model_validate({"query": "select * from t where email = '{{customer.email}}'"})
    with pytest.raises(ValidationError, match="params must be a list"):
        postgres.model_validate({"query": "select $1", "params": "{{customer.email}}"})


def test_a_salesforce_query_takes_values_only_as_bindings():
    salesforce = CATALOGUE.get("integration.salesforce").config_model
    ok = salesforce.model_validate({
        "action": "query", "soql": "SELECT Id FROM Contact WHERE Email = :email",
        "bindings": {"email": "{{customer.email}}"}})  # fmt: skip
    assert "soql" in ok.raw_fields and "bindings" not in ok.raw_fields
    with pytest.raises(ValidationError, match="soql is not interpolated"):
        salesforce.model_validate(
            {"action": "query", "soql": "SELECT Id FROM Contact WHERE Email = '{{customer.email}}'"}
        )
    with pytest.raises(ValidationError, match="bindings must be an object"):
        salesforce.model_validate({"action": "query", "soql": "SELECT Id FROM Lead",
                                   "bindings": "x"})  # fmt: skip


async def test_try_catch_opens_try_then_stores_the_error_for_catch(node_ctx):
    config = try_catch.Config.model_validate({"errorVariable": "oops"})
    error = {"nodeId": "x", "message": "boom"}

    first = await try_catch.execute(node_ctx(frame={}), config)
    ctx = node_ctx(frame={"error": error})
    caught = await try_catch.execute(ctx, config)

    assert first.port == "try"
    assert caught.port == "catch"
    assert ctx.context["variables"]["workflow"]["oops"] == error


@pytest.mark.parametrize(
    ("mode", "count", "inbound", "ports"),
    [
        ("all", None, 3, [None, None, "out"]),
        ("any", None, 3, ["out", None, None]),
        ("n", 2, 3, [None, "out", None]),
        ("n", 5, 2, [None, "out"]),
    ],
)
async def test_join_continues_once_when_enough_paths_arrived(node_ctx, mode, count, inbound, ports):
    config = join.Config.model_validate({"mode": mode, "count": count})
    arrivals: dict = {}

    taken = [
        (await join.execute(node_ctx(frame=arrivals, inbound=inbound), config)).port
        for _ in range(inbound)
    ]

    assert taken == ports


async def test_execute_workflow_requests_the_child_and_stores_its_result(node_ctx):
    config = execute_workflow.Config.model_validate(
        {"workflowId": "wf-2", "input": {"a": 1}, "outputVariable": "child"}
    )

    asked = await execute_workflow.execute(node_ctx(), config)
    ctx = node_ctx(delivered={"x": 2})
    await execute_workflow.execute(ctx, config)

    assert asked.request == {
        "workflowId": "wf-2",
        "input": {"a": 1},
        "waitForCompletion": True,
        "parentExecutionId": "ex-1",
    }
    assert ctx.context["variables"]["workflow"]["child"] == {"x": 2}


@pytest.mark.parametrize(
    ("decision", "wired", "port"),
    [
        ("approve", ("out", "approved", "rejected"), "approved"),
        ("Rejected", ("out", "approved", "rejected"), "rejected"),
        ("approve", ("out",), "out"),
        ("timeout", ("out", "approved", "rejected"), "out"),
    ],
)
async def test_human_handoff_routes_the_decision(node_ctx, decision, wired, port):
    config = human_handoff.Config.model_validate({"queue": "billing", "reason": "big refund"})

    outcome = await human_handoff.execute(
        node_ctx(delivered={"decision": decision}, wired=wired), config
    )

    assert outcome.port == port


def test_human_handoff_needs_someone_to_hand_off_to():
    with pytest.raises(ValidationError):
        human_handoff.Config.model_validate({"reason": "x"})


async def test_wait_for_reply_stores_the_message_or_times_out(node_ctx):
    config = wait_for_reply.Config.model_validate({"timeoutSeconds": 60})

    asked = await wait_for_reply.execute(node_ctx(payload={"conversationId": "c1"}), config)
    ctx = node_ctx(delivered={"text": "yes"})
    replied = await wait_for_reply.execute(ctx, config)
    silent = await wait_for_reply.execute(
        node_ctx(delivered={"timedOut": True}, wired=("out", "timeout")), config
    )

    assert asked.request == {"conversationId": "c1", "timeout_seconds": 60}
    assert replied.port == "out"
    assert ctx.context["variables"]["workflow"]["reply"] == {"text": "yes"}
    assert silent.port == "timeout"
