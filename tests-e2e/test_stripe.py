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

import httpx
import pytest
from conftest import KAFKA, REPO, RUN, SANDBOX_URL, Stack, TenantApi
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


REFUNDS = 200


def one_refund_workflow() -> dict[str, Any]:
    return {
        "name": "Refund once",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            {"id": "refund", "type": "integration", "label": "Stripe",
             "config": {"action": "createRefund", "paymentIntentId": "pi_123", "amount": "500",
                        "outputVariable": "refund"}},
        ],
        "edges": [{"id": "e1", "source": "t", "target": "refund"}],
    }  # fmt: skip


@pytest.mark.timeout(600)
async def test_kill_9_of_integrations_during_200_refunds_refunds_each_once(
    api: TenantApi, stack: Stack
) -> None:
    """Counted at Stripe's side: the sandbox forwards to stripe-mock and keeps Stripe's
    idempotent requests (stripe-mock keeps no state), recording each request's key."""
    await connect(
        api.http, api.tenant.headers, "stripe", name="Refunds", is_default=True,
        config={"base_url": f"{SANDBOX_URL}/stripe"}, credentials={"api_key": "sk_test_kill9"},
    )  # fmt: skip
    await api.activate(one_refund_workflow())
    run = secrets.token_hex(3)
    tenant_id = api.tenant.tenant_id
    posting = asyncio.gather(
        *(api.message(f"refund {i}", conversation_id=f"{run}-{i}") for i in range(REFUNDS))
    )
    await stack.wait_for_executions(10, tenant_id=tenant_id, timeout=120, interval=0.05)
    stack.kill("integrations")
    at_kill = stack.execution_statuses(tenant_id=tenant_id)
    trigger_ids = await posting
    stack.start("integrations")
    await stack.wait_for_executions(REFUNDS, tenant_id=tenant_id, timeout=300)
    assert at_kill["completed"] < REFUNDS, f"all done before the kill: {at_kill}"

    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        asked = await sandbox.get("/sandbox/stripe/requests", params={"path": "/v1/refunds"})
    executions = list(stack.db.executions.find({"tenant_id": tenant_id}))
    assert sorted(e["trigger_id"] for e in executions) == sorted(trigger_ids)
    ids = {e["_id"] for e in executions}
    mine = [r for r in asked.json()["requests"]
            if str(r["idempotency_key"]).split(":")[0] in ids]  # fmt: skip
    performed = [r["idempotency_key"] for r in mine if r["outcome"] == "performed"]
    # one refund per execution, each made once: a request repeated after the kill was replayed
    assert len(performed) == len(set(performed)) == REFUNDS, (len(performed), len(set(performed)))
    assert all(e["status"] == "completed" for e in executions)
    replayed = len(mine) - len(performed)
    print(
        f"\n[integrations kill -9] {REFUNDS} refunds; at the kill {dict(at_kill)}; "
        f"{len(mine)} refund requests at Stripe, {replayed} of them replayed or refused"
    )
