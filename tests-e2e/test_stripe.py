"""Stripe through the whole stack with the official SDK against stripe-mock (Stripe's own API
mock, started by infra.sh), and the canary: a connection's API key planted with a unique mark
is looked for in every service log, every message on every topic, every stored document and
every span of the run: 0 hits, although stripe-mock repeats a refused key in its error."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from typing import Any

import pytest
from conftest import KAFKA, REPO, RUN, Stack, TenantApi
from connections import connect
from contracts.topics import ALL_TOPICS
from kafka_observer import KafkaObserver

pytestmark = pytest.mark.e2e
STRIPE_MOCK = os.environ.get("STRIPE_MOCK_URL", "http://127.0.0.1:12111")


def refund_workflow() -> dict[str, Any]:
    """Look the payment up, refund 5.00 of it, say so; then a lookup with the refused key,
    whose error takes the `error` port to a reply."""

    def stripe(node_id: str, **config: Any) -> dict[str, Any]:
        return {"id": node_id, "type": "integration", "label": "Stripe", "config": config}

    def reply(node_id: str, message: str) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": "action",
            "label": "Send Reply",
            "config": {"message": message},
        }

    return {
        "name": "Stripe refund",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            stripe(
                "pi", action="getPaymentIntent", paymentIntentId="pi_123", outputVariable="payment"
            ),
            stripe(
                "refund",
                action="createRefund",
                paymentIntentId="{{workflow.payment.id}}",
                amount="500",
                outputVariable="refund",
            ),
            reply("done", "Refund {{workflow.refund.id}} of {{workflow.refund.amount}} cents"),
            stripe("other", action="getCustomer", customerId="cus_123", connection="Refused"),
            reply("sorry", "The other account refused us"),
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "pi"},
            {"id": "e2", "source": "pi", "target": "refund"},
            {"id": "e3", "source": "refund", "target": "done"},
            {"id": "e4", "source": "done", "target": "other"},
            {"id": "e5", "source": "other", "target": "sorry", "label": "error"},
        ],
    }  # fmt: skip


async def test_a_refund_through_stripe_leaves_no_trace_of_the_key(
    api: TenantApi, stack: Stack, trace_receiver
) -> None:
    mark = "CANARY" + secrets.token_hex(6)
    good_key, refused_key = f"sk_test_{mark}", f"badkey_{mark}"  # stripe-mock refuses the second
    observer = KafkaObserver(KAFKA, [t.name for t in ALL_TOPICS], alive=stack.assert_alive)
    await observer.start()
    try:
        live = await connect(
            api.http,
            api.tenant.headers,
            "stripe",
            name="Live",
            config={"base_url": STRIPE_MOCK},
            credentials={"api_key": good_key},
            is_default=True,
        )
        refused = await connect(
            api.http,
            api.tenant.headers,
            "stripe",
            name="Refused",
            config={"base_url": STRIPE_MOCK},
            credentials={"api_key": refused_key},
        )
        checked = await api.http.post(
            f"/v1/connections/{live['id']}/check", headers=api.tenant.headers
        )
        assert checked.json()["ok"] is True, checked.text
        denied = await api.http.post(
            f"/v1/connections/{refused['id']}/check", headers=api.tenant.headers
        )
        assert denied.json()["error"]["type"] == "Unauthorized", denied.text

        await api.activate(refund_workflow())
        trigger_id = await api.message("refund please", conversation_id="stripe-refund-1")
        done = await api.finished_execution(trigger_id)
        assert done["status"] == "completed", done.get("error")
        refund = done["variables"]["workflow"]["refund"]
        assert refund["object"] == "refund" and refund["id"].startswith("re_")
        assert refund["amount"] == 500 and refund["payment_intent"] == "pi_123"
        [other] = [
            n for n in done["timeline"] if n["node_id"] == "other" and n["status"] == "failed"
        ]
        assert other["error_detail"]["code"] == "Unauthorized"
        assert [n["node_id"] for n in done["timeline"] if n["status"] == "completed"][-1] == "sorry"
        answers = [checked.text, denied.text, json.dumps(done)]
        for path in ("/v1/connections", f"/v1/executions/{done['id']}/nodes"):
            answers.append((await api.http.get(path, headers=api.tenant.headers)).text)
        await asyncio.sleep(1.0)  # the spans' batch (OTEL_BSP_SCHEDULE_DELAY) and the logs
    finally:
        await observer.stop()

    hits: list[str] = []
    hits += [f"API answer {i}" for i, text in enumerate(answers) if mark in text]
    hits += [
        f"log {log.name}" for log in RUN.glob("*.log") if mark in log.read_text(errors="replace")
    ]
    hits += [
        f"topic {seen.topic}"
        for seen in observer.seen
        if mark in json.dumps([seen.value, seen.headers, seen.key], default=str)
    ]
    db = stack.db
    for name in db.list_collection_names():
        hits += [
            f"collection {name}"
            for doc in db[name].find({})
            if mark in json.dumps(doc, default=str)
        ]
    hits += [
        f"span {span}"
        for span in trace_receiver.all_spans()
        if mark in json.dumps([span.name, span.attributes, span.status_message], default=str)
    ]
    assert observer.seen, "the observer saw the run's messages"
    assert hits == [], hits


async def test_the_readmes_refund_workflow_refunds_on_stripe_mock(api: TenantApi) -> None:
    """deploy/local/demo/stripe-refund-workflow.json, as the README runs it."""
    await connect(
        api.http, api.tenant.headers, "stripe", name="Live", is_default=True,
        config={"base_url": STRIPE_MOCK}, credentials={"api_key": "sk_test_readme123"},
    )  # fmt: skip
    workflow = json.loads((REPO / "deploy/local/demo/stripe-refund-workflow.json").read_text())
    await api.activate(workflow)
    trigger_id = await api.message(
        "please refund", conversation_id="readme-refund", paymentIntentId="pi_123",
        amountCents=500,
    )  # fmt: skip
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    refund = done["variables"]["workflow"]["refund"]
    assert refund["id"].startswith("re_") and refund["amount"] == 500
    completed = [n["node_id"] for n in done["timeline"] if n["status"] == "completed"]
    assert completed[-1] == "done" and "sorry" not in completed
