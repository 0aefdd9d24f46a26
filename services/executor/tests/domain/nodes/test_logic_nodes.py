"""Condition, Wait/Delay, Loop and A/B Split, one run at a time."""

import pytest
from executor.domain.nodes.contract import NodeFailed
from executor.domain.nodes.logic import ab_split, condition, loop, wait_delay
from pydantic import ValidationError


async def test_condition_routes_yes_and_no(node_ctx):
    config = condition.Config.model_validate(
        {"condition": {"left": "customer.age", "operator": ">=", "right": "18"}}
    )

    adult = await condition.execute(node_ctx(customer={"age": 30}), config)
    minor = await condition.execute(node_ctx(customer={"age": 3}), config)

    assert (adult.port, adult.output) == ("yes", {"result": True})
    assert minor.port == "no"


async def test_condition_accepts_an_expression_string(node_ctx):
    config = condition.Config.model_validate({"expression": "workflow.n > 2 && customer.vip"})

    outcome = await condition.execute(node_ctx(workflow={"n": 3}, customer={"vip": True}), config)

    assert outcome.port == "yes"


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"condition": {"left": "a.b", "operator": "==", "right": 1}, "expression": "true"},
        {"condition": 5},
    ],
)
def test_condition_needs_exactly_one_valid_test(config):
    with pytest.raises(ValidationError):
        condition.Config.model_validate(config)


@pytest.mark.parametrize(
    ("config", "request_"),
    [
        ({"duration": "PT1H30M"}, {"delay_seconds": 5400.0}),
        ({"duration": 90}, {"delay_seconds": 90.0}),
        ({"duration": "15m"}, {"delay_seconds": 900.0}),
        ({"duration": "P1D"}, {"delay_seconds": 86400.0}),
        ({"until": "2025-01-02T08:00:00Z"}, {"until": "2025-01-02T08:00:00+00:00"}),
    ],
)
async def test_wait_asks_the_scheduler_for_a_timer(node_ctx, config, request_):
    outcome = await wait_delay.execute(node_ctx(), wait_delay.Config.model_validate(config))

    assert outcome.request == request_
    assert outcome.port is None


async def test_wait_continues_at_once_for_a_past_time_or_zero(node_ctx):
    for config in ({"until": "2024-12-31T00:00:00Z"}, {"duration": 0}):
        outcome = await wait_delay.execute(node_ctx(), wait_delay.Config.model_validate(config))
        assert (outcome.port, outcome.request) == ("out", None)


async def test_wait_continues_once_the_timer_fired(node_ctx):
    config = wait_delay.Config.model_validate({"duration": "PT1H"})

    outcome = await wait_delay.execute(node_ctx(delivered={}), config)

    assert outcome.port == "out"


async def test_a_dynamic_delay_that_renders_to_nonsense_fails_the_node(node_ctx):
    config = wait_delay.Config.model_validate({"duration": "{{workflow.delay}}"})
    config = config.model_copy(update={"duration": "soon"})

    with pytest.raises(NodeFailed, match="not a duration"):
        await wait_delay.execute(node_ctx(), config)


@pytest.mark.parametrize(
    "config",
    [
        {},
        {"duration": "PT1H", "until": "2025-01-01T00:00:00Z"},
        {"duration": "later"},
        {"until": "noon"},
    ],
)
def test_wait_config_needs_one_valid_moment(config):
    with pytest.raises(ValidationError):
        wait_delay.Config.model_validate(config)


async def test_loop_steps_through_items_then_done(node_ctx):
    config = loop.Config.model_validate({"type": "forEach", "arrayPath": "{{trigger.items}}"})
    ctx = node_ctx(payload={"items": ["a", "b"]}, frame={})
    variables = ctx.context["variables"]["workflow"]

    ports = []
    for _ in range(3):
        outcome = await loop.execute(ctx, config)
        ports.append((outcome.port, dict(variables)))

    assert ports == [
        ("body", {"item": "a", "index": 0}),
        ("body", {"item": "b", "index": 1}),
        ("done", {"item": "b", "index": 1}),
    ]


@pytest.mark.parametrize(
    "config",
    [
        {"type": "forEach"},
        {"type": "count"},
        {"type": "while"},
        {"type": "count", "count": "many"},
        {"type": "count", "count": 3, "maxIterations": 0},
        {"type": "forEach", "arrayPath": "x.items", "itemVariable": "{{x}}"},
    ],
)
def test_loop_config_is_checked(config):
    with pytest.raises(ValidationError):
        loop.Config.model_validate(config)


async def test_loop_refuses_more_items_than_its_limit(node_ctx):
    config = loop.Config.model_validate(
        {"type": "forEach", "arrayPath": "trigger.items", "maxIterations": 2}
    )

    with pytest.raises(NodeFailed, match="over its limit of 2"):
        await loop.execute(node_ctx(payload={"items": [1, 2, 3]}, frame={}), config)


def test_ab_split_choice_follows_the_weights():
    config = ab_split.Config.model_validate(
        {"variants": [{"name": "a", "weight": 1}, {"name": "b", "weight": 3}]}
    )

    picks = [ab_split.choose(config, f"conversation-{i}").name for i in range(4000)]

    assert 0.2 < picks.count("a") / len(picks) < 0.3


def test_ab_split_never_picks_a_zero_weight_variant():
    config = ab_split.Config.model_validate(
        {"variants": [{"name": "off", "weight": 0}, {"name": "on", "weight": 2}]}
    )

    assert {ab_split.choose(config, str(i)).name for i in range(500)} == {"on"}


async def test_ab_split_without_a_conversation_is_sticky_per_execution(node_ctx):
    config = ab_split.Config.model_validate({"variants": [{"name": "A"}, {"name": "B"}]})

    first = await ab_split.execute(node_ctx(execution={"id": "ex-9", "workflowId": "w"}), config)
    again = await ab_split.execute(node_ctx(execution={"id": "ex-9", "workflowId": "w"}), config)

    assert first.output == again.output
    assert first.port == first.output["variant"].lower()


@pytest.mark.parametrize(
    "config",
    [
        {"variants": []},
        {"variants": [{"name": "A"}, {"name": "a"}]},
        {"variants": [{"name": "A", "weight": 0}]},
        {"variants": [{"name": "A", "weight": -1}]},
    ],
)
def test_ab_split_config_is_checked(config):
    with pytest.raises(ValidationError):
        ab_split.Config.model_validate(config)
