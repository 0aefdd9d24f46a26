"""Trigger filters on the real stack: a trigger its workflow's trigger node does not admit
starts no execution, and GET /v1/triggers/{id} says which workflow it did not start and why."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from conftest import TenantApi

pytestmark = pytest.mark.e2e


def refund_workflow() -> dict[str, Any]:
    """The product's refund-request example, cut to its trigger and a reply."""
    return {
        "name": "Refund request",
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


async def detected(api: TenantApi, intent: str, confidence: float) -> str:
    accepted = await api.http.post(
        "/v1/events/intent_detected",
        json={
            "conversation_id": f"conv-{intent}-{confidence}",
            "channel": "chat",
            "payload": {"intent": intent, "confidence": confidence, "text": "..."},
        },
        headers=api.tenant.headers,
    )
    assert accepted.status_code == 202, accepted.text
    trigger_id: str = accepted.json()["trigger_id"]
    return trigger_id


async def what_it_did(http: httpx.AsyncClient, api: TenantApi, trigger_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = await http.get(f"/v1/triggers/{trigger_id}", headers=api.tenant.headers)
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            return body
        assert answer.status_code == 404, answer.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"trigger {trigger_id} not handled in 30 s")


async def test_the_refund_workflow_starts_only_for_a_confident_refund_request(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    workflow_id = await api.activate(refund_workflow())

    other_intent = await what_it_did(http, api, await detected(api, "cancel_subscription", 0.1))
    assert other_intent["executions"] == []
    (skipped,) = other_intent["not_started"]
    assert skipped["workflow_id"] == workflow_id
    assert skipped["reason"] == "intent 'cancel_subscription' is not 'refund_request'"

    unsure = await what_it_did(http, api, await detected(api, "refund_request", 0.5))
    assert unsure["executions"] == []
    assert unsure["not_started"][0]["reason"] == "confidence 0.5 is below 0.7"

    refund = await what_it_did(http, api, await detected(api, "refund_request", 0.9))
    assert refund["not_started"] == []
    (started,) = refund["executions"]
    assert started["workflow_id"] == workflow_id
    execution = await api.finished_execution(refund["trigger_id"])
    assert execution["status"] == "completed"


async def test_a_message_on_another_channel_starts_nothing(
    api: TenantApi, http: httpx.AsyncClient
) -> None:
    await api.activate(
        {
            "name": "SMS only",
            "triggerType": "Incoming Message",
            "nodes": [
                {
                    "id": "t",
                    "type": "trigger",
                    "label": "Incoming Message",
                    "config": {"channels": ["sms"]},
                },
                {"id": "r", "type": "action", "label": "Send Reply", "config": {"message": "hi"}},
            ],
            "edges": [{"id": "e", "source": "t", "target": "r"}],
        }
    )
    trigger_id = await api.message("hello", conversation_id="chat-not-sms")
    did = await what_it_did(http, api, trigger_id)
    assert did["executions"] == []
    assert did["not_started"][0]["reason"] == "channel 'chat' is not one of ['sms']"
