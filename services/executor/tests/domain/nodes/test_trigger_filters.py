"""Every trigger kind's filter, as documented in the node catalogue: a trigger its trigger
node does not admit starts no execution, and the reason names what did not match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from executor.domain.interpreter import compile_workflow, refusal
from executor.domain.nodes.registry import CATALOGUE

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
REFUND_REQUEST = {
    "name": "Refund",
    "triggerType": "Intent Detected",
    "nodes": [
        {
            "id": "t",
            "type": "trigger",
            "label": "Intent Detected",
            "config": {"intent": "refund_request", "minConfidence": 0.7},
        },
        {"id": "r", "type": "action", "label": "Send Reply", "config": {"message": "ok"}},
    ],
    "edges": [{"id": "e", "source": "t", "target": "r"}],
}


def admits(label: str, config: dict[str, Any], trigger: dict[str, Any]) -> str | None:
    kind = CATALOGUE.trigger_for(label)
    assert kind is not None and kind.admits is not None
    return kind.admits(kind.config_model.model_validate(config), trigger)


@pytest.mark.parametrize(
    ("label", "config", "trigger", "refused_because"),
    [
        ("Incoming Message", {}, {"channel": "sms"}, None),
        ("Incoming Message", {"channels": ["chat", "sms"]}, {"channel": "sms"}, None),
        ("Incoming Message", {"channels": ["chat"]}, {"channel": "sms"}, "channel 'sms'"),
        ("Incoming Message", {"channels": ["chat"]}, {}, "channel None"),
        ("Incoming Call", {"phoneNumberIds": ["+15550001"]}, {"to": "+15550001"}, None),
        ("Incoming Call", {"phoneNumberIds": ["pn_1"]}, {"phoneNumberId": "pn_1"}, None),
        ("Incoming Call", {"phoneNumberIds": ["+15550001"]}, {"to": "+15550002"}, "number"),
        ("Intent Detected", {"intent": "refund_request"}, {"intent": "refund_request"}, None),
        ("Intent Detected", {"intent": "refund_request"}, {"intent": "cancel"}, "intent 'cancel'"),
        ("Intent Detected", {"minConfidence": 0.7}, {"intent": "x", "confidence": 0.7}, None),
        ("Intent Detected", {"minConfidence": 0.7}, {"confidence": 0.69}, "below 0.7"),
        ("Intent Detected", {"minConfidence": 0.7}, {"intent": "x"}, "no confidence"),
        ("Intent Detected", {"minConfidence": 0.7}, {"confidence": True}, "no confidence"),
        ("Sentiment Negative", {"threshold": -0.5}, {"score": -0.5}, None),
        ("Sentiment Negative", {"threshold": -0.5}, {"score": -0.9}, None),
        ("Sentiment Negative", {"threshold": -0.5}, {"score": -0.2}, "above the threshold"),
        ("Sentiment Negative", {}, {}, "no score"),
        ("SLA Breached", {"policy": "resolution"}, {"policy": "resolution"}, None),
        ("SLA Breached", {"policy": "resolution"}, {}, None),
        ("SLA Breached", {"policy": "resolution"}, {"policy": "first_response"}, "policy"),
        ("New Order", {"storeIds": ["shop-1"]}, {"storeId": "shop-1"}, None),
        ("New Order", {"storeIds": ["shop-1"]}, {"storeId": "shop-2"}, "store 'shop-2'"),
        ("New Order", {}, {}, None),
        (
            "SLA Breached",
            {"policy": "resolution", "policyIds": ["slp_1"]},
            {"policy": "resolution", "policyId": "slp_1"},
            None,
        ),
        (
            "SLA Breached",
            {"policy": "resolution", "policyIds": ["slp_1"]},
            {"policy": "resolution", "policyId": "slp_2"},
            "'slp_2'",
        ),
        ("SLA At Risk", {"policy": "next_response"}, {"policy": "next_response"}, None),
        ("SLA At Risk", {"policy": "next_response"}, {"policy": "resolution"}, "policy"),
        ("Scheduled", {}, {"scheduleId": "sch_1"}, None),
        ("Scheduled", {"scheduleIds": ["sch_1"]}, {"scheduleId": "sch_1"}, None),
        ("Scheduled", {"scheduleIds": ["sch_1"]}, {"scheduleId": "sch_2"}, "'sch_2'"),
    ],
)
def test_each_trigger_kind_admits_what_its_config_says(
    label: str, config: dict[str, Any], trigger: dict[str, Any], refused_because: str | None
) -> None:
    reason = admits(label, config, trigger)
    if refused_because is None:
        assert reason is None
    else:
        assert reason is not None and refused_because in reason


def test_every_trigger_kind_has_a_filter() -> None:
    triggers = [kind for kind in CATALOGUE if kind.name.startswith("trigger.")]
    assert len(triggers) == 8 and all(kind.admits is not None for kind in triggers)


def test_the_refund_example_refunds_only_for_a_confident_refund_request() -> None:
    workflow = compile_workflow(REFUND_REQUEST)
    assert (
        refusal(workflow, "Intent Detected", {"intent": "refund_request", "confidence": 0.9})
        is None
    )
    assert "cancel_subscription" in (
        refusal(workflow, "Intent Detected", {"intent": "cancel_subscription", "confidence": 0.1})
        or ""
    )
    assert "below 0.7" in (
        refusal(workflow, "Intent Detected", {"intent": "refund_request", "confidence": 0.5}) or ""
    )


def test_the_example_refund_workflow_is_filtered_the_same_way() -> None:
    # the product's refund-request example, as the golden tests keep it
    path = GOLDEN / "refund-request" / "workflow.json"
    workflow = compile_workflow(json.loads(path.read_text()))
    refused = refusal(
        workflow, "Intent Detected", {"intent": "cancel_subscription", "confidence": 0.1}
    )
    assert refused is not None and "cancel_subscription" in refused


def test_a_workflow_without_a_trigger_of_that_type_says_so() -> None:
    workflow = compile_workflow(REFUND_REQUEST)
    assert "no 'New Order' trigger" in (refusal(workflow, "New Order", {}) or "")
