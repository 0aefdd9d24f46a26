"""Triggers pass through; configuration nodes describe resources."""

import pytest
from executor.domain.nodes.configuration import ai_configuration, knowledge_base
from executor.domain.nodes.triggers import (
    incoming_call,
    incoming_message,
    intent_detected,
    new_order,
    sentiment_negative,
    sla_at_risk,
    sla_breached,
)
from pydantic import ValidationError


@pytest.mark.parametrize(
    ("module", "config", "payload", "output"),
    [
        (incoming_message, {"channels": ["chat", "sms"]}, {"channel": "sms"}, {"channel": "sms"}),
        (incoming_call, {"phoneNumberIds": ["pn"]}, {"from": "+1"}, {"from": "+1"}),
        (intent_detected, {"intent": "refund", "minConfidence": 0.7}, {}, {"intent": "refund"}),
        (sentiment_negative, {"threshold": -0.5}, {"score": -0.9}, {"score": -0.9}),
        (sla_breached, {"policy": "resolution"}, {}, {"policy": "resolution"}),
        (
            sla_at_risk,
            {"policy": "next_response"},
            {"policy": "next_response", "policyId": "slp_1", "dueAt": "2026-01-01T10:00:00+00:00"},
            {"policy": "next_response", "policyId": "slp_1", "dueAt": "2026-01-01T10:00:00+00:00"},
        ),
        (new_order, {}, {"name": "#1"}, {"order": "#1"}),
    ],
)
async def test_a_trigger_continues_on_out_and_reports_what_started_it(
    node_ctx, module, config, payload, output
):
    outcome = await module.execute(node_ctx(payload=payload), module.Config.model_validate(config))

    assert (outcome.port, outcome.output, outcome.request) == ("out", output, None)


@pytest.mark.parametrize(
    ("module", "config"),
    [
        (incoming_message, {"channels": ["pigeon"]}),
        (intent_detected, {"minConfidence": 2}),
        (sentiment_negative, {"threshold": -3}),
        (sla_breached, {"policy": "whenever"}),
        (new_order, {"unknown": 1}),
    ],
)
def test_trigger_configs_are_checked(module, config):
    with pytest.raises(ValidationError):
        module.Config.model_validate(config)


def test_configuration_nodes_describe_the_resources_they_provide():
    kb = knowledge_base.Config.model_validate({"documentIds": ["d1"]})
    ai = ai_configuration.Config.model_validate({"model": "gpt-4o-mini", "temperature": 0.3})

    assert kb.resource() == ("knowledgeBase", {"documentIds": ["d1"]})
    assert ai.resource() == ("aiConfig", {"model": "gpt-4o-mini", "temperature": 0.3})


async def test_a_configuration_node_reached_by_an_edge_passes_through(node_ctx):
    config = knowledge_base.Config.model_validate({"documentIds": ["d1"]})

    outcome = await knowledge_base.execute(node_ctx(), config)

    assert outcome.port == "out"
