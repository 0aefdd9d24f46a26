"""Two of the builder's example workflows, exactly as saved, on the real stack with their
effects: negative-sentiment-escalation (a tag, a reply, an agent with the skill, a Slack post)
and refund-request (Stripe through its SDK, or the tenant's own service in `http` mode, then
either the refund email and End Chat, or a takeover by billing and, back from the agent,
Assign Agent)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

import httpx
import pytest
from conftest import REPO, SANDBOX_URL, TenantApi
from connections import connect

pytestmark = pytest.mark.e2e
EXAMPLES = REPO / "services" / "executor" / "tests" / "golden"
T = TypeVar("T")


def example(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = json.loads((EXAMPLES / name / "workflow.json").read_text())
    return workflow


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.2)


ANGRY = "This is the third time my order is late. I am furious and this is terrible!"


def taken_path(execution: dict[str, Any]) -> list[str]:
    """The nodes that completed, in order (an effect's node is also in the timeline as it
    waited for its result)."""
    return [n["node_id"] for n in execution["timeline"] if n["status"] == "completed"]


async def agent_in_queue(api: TenantApi, queue: str, **agent: Any) -> None:
    made = await api.http.post(
        "/v1/agents", json={"status": "online", "capacity": 5, **agent}, headers=api.tenant.headers
    )
    assert made.status_code == 201, made.text
    put = await api.http.put(
        f"/v1/queues/{queue}", json={"members": [agent["id"]]}, headers=api.tenant.headers
    )
    assert put.status_code == 200, put.text


async def test_negative_sentiment_escalation(api: TenantApi) -> None:
    async with httpx.AsyncClient(base_url=SANDBOX_URL, timeout=30) as sandbox:
        workspace = (
            await sandbox.post(
                "/sandbox/slack/workspaces", json={"channels": [{"name": "escalations"}]}
            )
        ).json()
        slack = await api.http.put(
            "/v1/channels/slack",
            json={"bot_token": workspace["bot_token"]},
            headers=api.tenant.headers,
        )
        assert slack.status_code == 200, slack.text
        notify = {"channel": "slack", "target": "#escalations"}  # the agent is told there
        await agent_in_queue(
            api, "escalations", id="calm", name="Calm", skills=["de-escalation"], notify=notify
        )
        await api.activate(example("negative-sentiment-escalation"))
        # a customer's message: classified on its way in, its sentiment starts the workflow
        trigger = await api.message(ANGRY, conversation_id="angry-1", customer={"name": "Ada"})
        done = await api.finished_execution(trigger)
        assert done["status"] == "completed", done.get("error")
        started = done["trigger"]["payload"]
        assert started["score"] < -0.5 and started["sentiment"] == "negative"
        path = taken_path(done)
        assert path[:3] == ["t", "tag", "ab"] and path[-2:] == ["assign", "slack"]

        conversation = (
            await api.http.get("/v1/conversations/angry-1", headers=api.tenant.headers)
        ).json()
        assert conversation["tags"] == ["at-risk"]
        assert (conversation["status"], conversation["assignee"]) == ("with_agent", "calm")
        assert conversation["assignment"]["priority"] == 2  # negative sentiment first
        replies = [m["body"] for m in conversation["messages"] if m["direction"] == "outbound"]
        assert len(replies) == 1 and replies[0].startswith(("I'm sorry", "Sorry, Ada"))

        async def posts() -> list[str] | None:
            got = await sandbox.get(
                "/sandbox/slack/messages", params={"team_id": workspace["team_id"]}
            )
            texts = [m["text"] for m in got.json()["messages"]]
            return texts if len(texts) == 2 else None

        told, post = sorted(await eventually(posts))
        assert told.startswith("Conversation angry-1 is yours (queue escalations): skills")
        assert post == f"Negative sentiment from Ada: {ANGRY}"


class Stripe:
    """Stripe's two calls as the integrations service's `http` mode makes them."""

    def __init__(self, amount: int) -> None:
        self.amount = amount
        self.calls: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture
def stripe_http() -> Iterator[tuple[str, Stripe]]:
    stripe = Stripe(amount=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            action = self.path.rsplit("/", 1)[-1]
            stripe.calls.append((action, body))
            if action == "getPaymentIntent":
                answer = {"id": "pi_123", "amount": stripe.amount, "currency": "usd"}
            else:
                answer = {"id": "re_456", "status": "succeeded"}
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", stripe
    finally:
        server.shutdown()


@pytest.fixture
async def mailbox(api: TenantApi) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=SANDBOX_URL, timeout=30) as sandbox:
        made = (await sandbox.post("/sandbox/sendgrid/accounts", json={})).json()
        connected = await api.http.put(
            "/v1/channels/sendgrid",
            json={
                "api_key": made["api_key"],
                "from_email": "billing@acme.test",
                "event_webhook_public_key": made["public_key"],
                "inbound_address": "help@reply.acme.test",
            },
            headers=api.tenant.headers,
        )
        assert connected.status_code == 200, connected.text
        yield sandbox


def remember_payment_workflow() -> dict[str, Any]:
    return {
        "name": "Remember the payment",
        "triggerType": "Incoming Message",
        "nodes": [
            {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
            {"id": "keep", "type": "action", "label": "Set Variable",
             "config": {"path": "conversation.lastPaymentIntent",
                        "value": "{{trigger.paymentIntentId}}"}},
        ],
        "edges": [{"id": "e1", "source": "t", "target": "keep"}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "amount"),
    [("provider", None), ("http", 12000)],
    ids=["stripe-under-50", "tenant-service-over-50"],
)
async def test_refund_request(
    api: TenantApi,
    stripe_http: tuple[str, Stripe],
    mailbox: httpx.AsyncClient,
    mode: str,
    amount: int | None,
) -> None:
    """Under 50: Stripe itself (the official SDK; the sandbox keeps Stripe's idempotent
    requests in front of stripe-mock, whose payment intent is 10.99); over 50: the tenant's own
    service in `http` mode, answering an amount stripe-mock cannot."""
    conversation_id = f"refund-{mode}"
    if mode == "provider":
        await connect(
            api.http, api.tenant.headers, "stripe", name="Stripe",
            config={"base_url": f"{SANDBOX_URL}/stripe"},
            credentials={"api_key": "sk_test_refundexample"},
        )  # fmt: skip
        # the conversation knows its payment: an earlier bot step remembered it
        await api.activate(remember_payment_workflow())
        remembered = await api.message(
            "I paid", conversation_id=conversation_id, paymentIntentId="pi_3Mtw"
        )
        assert (await api.finished_execution(remembered))["status"] == "completed"
    else:
        base_url, stripe = stripe_http
        stripe.amount = amount or 0
        await connect(
            api.http, api.tenant.headers, "stripe", mode="http",
            config={"base_url": base_url, "timeout_seconds": 5},
        )  # fmt: skip
    await agent_in_queue(api, "billing", id="bill", name="Bill")
    await api.activate(example("refund-request"))
    accepted = await api.http.post(
        "/v1/events/intent_detected",
        json={
            "conversation_id": conversation_id,
            "channel": "chat",
            "payload": {"intent": "refund_request", "confidence": 0.93, "text": "refund me"},
            "customer": {"name": "Ada", "email": f"ada-{mode}@example.com"},
        },
        headers=api.tenant.headers,
    )
    assert accepted.status_code == 202, accepted.text
    trigger_id = accepted.json()["trigger_id"]

    async def conversation() -> dict[str, Any]:
        got = await api.http.get(f"/v1/conversations/{conversation_id}", headers=api.tenant.headers)
        return dict(got.json())

    if mode == "provider":  # 10.99: refunded at once, the email, the goodbye, the chat closed
        done = await api.finished_execution(trigger_id)
        assert done["status"] == "completed", done.get("error")
        payment, refund = (done["variables"]["workflow"][k] for k in ("payment", "refund"))
        assert payment["object"] == "payment_intent" and payment["amount"] < 5000
        assert refund["object"] == "refund" and refund["id"].startswith("re_")
        asked = (await mailbox.get("/sandbox/stripe/requests")).json()["requests"]
        made = [r for r in asked if r["path"] == "/v1/refunds"
                and str(r["idempotency_key"]).startswith(done["id"])]  # fmt: skip
        assert [r["outcome"] for r in made] == ["performed"]
        assert any(r["path"] == "/v1/payment_intents/pi_3Mtw" for r in asked)

        async def mailed() -> list[dict[str, Any]] | None:
            got = await mailbox.get(
                "/sandbox/sendgrid/messages", params={"to": "ada-provider@example.com"}
            )
            return got.json()["messages"] or None

        (mail,) = await eventually(mailed)
        assert f"Your refund of {payment['amount']} cents" in json.dumps(mail)
        assert refund["id"] in json.dumps(mail)
        closed = await conversation()
        assert closed["status"] == "closed" and closed["resolution"] == "resolved"
        assert any(m.get("body") == "Glad we could help. Goodbye!" for m in closed["messages"])
        return

    # over 50: tagged for review, taken over by billing; back from the agent, Assign Agent
    async def taken() -> dict[str, Any] | None:
        got = await conversation()
        return got if got.get("assignee") == "bill" else None

    held = await eventually(taken)
    assert held["tags"] == ["refund-review"] and held["status"] == "with_agent"
    assert [a for a, _ in stripe.calls] == ["getPaymentIntent"]
    back = await api.http.post(
        f"/v1/conversations/{conversation_id}/return-to-bot",
        json={"by": "bill", "note": "refund approved by phone"},
        headers=api.tenant.headers,
    )
    assert back.status_code == 200 and back.json()["resumed"], back.text
    done = await api.finished_execution(trigger_id)
    assert done["status"] == "completed", done.get("error")
    assert taken_path(done)[-2:] == ["handoff", "assign"]
    assigned = done["timeline"][-1]["output"]
    assert assigned["agentId"] == "bill" and assigned["queue"] == "billing"
