"""Email on the real stack, the provider sandbox playing SendGrid and the customer: a chat
message starts a workflow whose Send Email nodes go out through the notifier and the sendgrid
SDK, naming their message (custom_args, Message-ID, Reply-To the tenant's inbound address);
SendGrid's signed events come back through the gateway (one recipient bounces: visible on
the message, in the execution's messages and as DeliveryFailed); the customer's reply comes in
by Inbound Parse, threaded into the same conversation, and starts a workflow on channel
`email` whose Send Reply answers in the thread. A forged event signature and a wrong Inbound
Parse secret are 403 and publish nothing."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import SANDBOX_URL, TenantApi
from contracts import topics
from kafka_observer import KafkaObserver, Seen

pytestmark = pytest.mark.e2e
CUSTOMER = "ann@example.com"
BOUNCES = "bob+bounce@example.com"  # the sandbox's SendGrid bounces it (5.1.1)


def email_workflow() -> dict[str, Any]:
    """A chat message in: an email to the customer and one to an address that bounces."""
    send = {"type": "action", "label": "Send Email"}
    return {
        "name": "Order emails",
        "triggerType": "Incoming Message",
        "nodes": [
            {
                "id": "t",
                "type": "trigger",
                "label": "Incoming Message",
                "config": {"channels": ["chat"]},
            },
            {
                **send,
                "id": "ann",
                "config": {
                    "to": CUSTOMER,
                    "subject": "Your order",
                    "body": "It shipped: {{trigger.text}}",
                },
            },
            {
                **send,
                "id": "bob",
                "config": {"to": BOUNCES, "subject": "Your order", "body": "<p>It shipped.</p>"},
            },
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "ann"},
            {"id": "e2", "source": "ann", "target": "bob"},
        ],
    }


def reply_workflow() -> dict[str, Any]:
    """An email in: a reply in its thread."""
    return {
        "name": "Email auto-reply",
        "triggerType": "Incoming Message",
        "nodes": [
            {
                "id": "t",
                "type": "trigger",
                "label": "Incoming Message",
                "config": {"channels": ["email"]},
            },
            {
                "id": "reply",
                "type": "action",
                "label": "Send Reply",
                "config": {"message": "We read: {{trigger.text}}"},
            },
        ],
        "edges": [{"id": "e1", "source": "t", "target": "reply"}],
    }


@dataclass
class SendGrid:
    """The tenant's sandbox SendGrid account, connected in the gateway."""

    sandbox: httpx.AsyncClient
    api_key: str
    inbound_address: str
    webhooks: dict[str, str]

    async def sent_to(self, to: str, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            listed = await self.sandbox.get("/sandbox/sendgrid/messages", params={"to": to})
            found: list[dict[str, Any]] = listed.json()["messages"]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.1)


@pytest.fixture
async def sendgrid(api: TenantApi) -> AsyncIterator[SendGrid]:
    host = f"reply-{secrets.token_hex(4)}.acme.test"
    async with httpx.AsyncClient(base_url=SANDBOX_URL, timeout=30) as sandbox:
        made = await sandbox.post("/sandbox/sendgrid/accounts", json={})
        assert made.status_code == 201, made.text
        key, public_key = made.json()["api_key"], made.json()["public_key"]
        connected = await api.http.put(
            "/v1/channels/sendgrid",
            json={
                "api_key": key,
                "from_email": "support@acme.test",
                "from_name": "Acme",
                "event_webhook_public_key": public_key,
                "inbound_address": f"help@{host}",
            },
            headers=api.tenant.headers,
        )
        assert connected.status_code == 200, connected.text
        assert key not in connected.text
        webhooks = connected.json()["webhooks"]
        bearer = {"Authorization": f"Bearer {key}"}
        # configured the way a tenant configures SendGrid: its own v3 settings API
        events = await sandbox.patch(
            "/v3/user/webhooks/event/settings",
            json={"enabled": True, "url": webhooks["events"]},
            headers=bearer,
        )
        assert events.status_code == 200, events.text
        parse = await sandbox.post(
            "/v3/user/webhooks/parse/settings",
            json={"hostname": host, "url": webhooks["inbound_parse"]},
            headers=bearer,
        )
        assert parse.status_code == 201, parse.text
        yield SendGrid(sandbox, key, f"help@{host}", webhooks)


@pytest.fixture
async def observer(stack: Any) -> AsyncIterator[KafkaObserver]:
    seen = KafkaObserver(
        stack.kafka,
        [topics.TRIGGERS, topics.EXECUTIONS, topics.DELIVERY_STATUS],
        alive=stack.assert_alive,
    )
    await seen.start()
    try:
        yield seen
    finally:
        await seen.stop()


async def messages_of(
    api: TenantApi, execution_id: str, until: dict[str, str], timeout: float = 30
) -> dict[str, dict[str, Any]]:
    """The execution's messages by node (GET /v1/executions/{id}/messages), once each node
    in ``until`` has its message in the status named."""
    deadline = time.monotonic() + timeout
    while True:
        listed = await api.http.get(
            f"/v1/executions/{execution_id}/messages", headers=api.tenant.headers
        )
        assert listed.status_code == 200, listed.text
        by_node = {m["node_id"]: m for m in listed.json()["messages"]}
        if all(by_node.get(n, {}).get("status") == s for n, s in until.items()):
            return by_node
        if time.monotonic() > deadline:
            raise AssertionError(f"not {until}: {by_node}")
        await asyncio.sleep(0.1)


async def test_email_out_events_back_and_the_reply_threaded_in(
    api: TenantApi, sendgrid: SendGrid, observer: KafkaObserver
) -> None:
    await api.activate(email_workflow())
    await api.activate(reply_workflow())
    conversation = "cnv_email_" + secrets.token_hex(6)
    execution = await api.finished_execution(
        await api.message("order 42", conversation_id=conversation)
    )
    assert execution["status"] == "completed", execution

    # SendGrid's events came back signed: one delivered, one bounced
    found = await messages_of(api, execution["id"], {"ann": "delivered", "bob": "bounced"})
    ann, bob = found["ann"], found["bob"]
    assert (ann["channel"], ann["provider"], ann["subject"]) == ("email", "sendgrid", "Your order")
    assert [h["status"] for h in ann["status_history"]] == [
        "pending",
        "accepted",
        "processed",
        "delivered",
    ]
    assert bob["error"]["type"] == "InvalidRecipient" and bob["error"]["retryable"] is False
    [failed] = await observer.wait_for(
        lambda m: m.type == "DeliveryFailed" and m.value["message_id"] == bob["id"]
    )
    assert failed.value["status"] == "bounced"

    # what SendGrid received from the notifier names the message
    [mail] = await sendgrid.sent_to(CUSTOMER)
    request = mail["request"]
    assert mail["message_id"] == ann["provider_message_id"]
    assert request["custom_args"]["cf_message_id"] == ann["id"]
    assert request["custom_args"]["cf_idempotency_key"].startswith(execution["id"] + ":ann:")
    assert request["headers"]["Message-ID"] == f"<{ann['id']}@acme.test>"
    assert request["reply_to"] == {"email": sendgrid.inbound_address}
    assert request["content"][0] == {"type": "text/plain", "value": "It shipped: order 42"}

    # the customer answers: Inbound Parse, threaded into the conversation of the email
    answered = await sendgrid.sandbox.post(
        "/sandbox/sendgrid/inbound",
        json={
            "from": CUSTOMER,
            "from_name": "Ann",
            "to": sendgrid.inbound_address,
            "text": "Where is it now?",
            "reply_to": mail["message_id"],
        },
    )
    assert answered.status_code == 200 and answered.json()["status"] == 200, answered.text

    def email_in(m: Seen) -> bool:
        return m.type == "TriggerReceived" and m.value.get("channel") == "email"

    [trigger] = await observer.wait_for(email_in)
    assert trigger.value["conversation_id"] == conversation
    assert trigger.value["message"]["body"] == "Where is it now?"  # the quote left out
    assert trigger.value["message"]["subject"] == "Re: Your order"
    replied = await api.finished_execution(trigger.value["trigger_id"])
    assert replied["status"] == "completed", replied
    assert replied["conversation_id"] == conversation
    [reply] = (await messages_of(api, replied["id"], {"reply": "delivered"})).values()
    assert reply["channel"] == "email" and reply["to"] == CUSTOMER
    [_, answer] = await sendgrid.sent_to(CUSTOMER, count=2)
    assert answer["request"]["subject"] == "Re: Your order"
    assert answer["request"]["headers"]["In-Reply-To"] == answered.json()["message_id"]
    assert answer["request"]["content"][0]["value"] == "We read: Where is it now?"
    got = await api.http.get(f"/v1/conversations/{conversation}", headers=api.tenant.headers)
    directions = [(m["direction"], m["channel"]) for m in got.json()["messages"]]
    assert ("inbound", "email") in directions and directions.count(("outbound", "email")) == 3


async def test_a_forged_event_and_a_wrong_inbound_secret_are_403(
    api: TenantApi, sendgrid: SendGrid, observer: KafkaObserver
) -> None:
    await api.activate(email_workflow())
    execution = await api.finished_execution(
        await api.message("order 7", conversation_id="cnv_forged_" + secrets.token_hex(6))
    )
    ann = (await messages_of(api, execution["id"], {"ann": "delivered"}))["ann"]

    forged = await sendgrid.sandbox.post(
        f"/sandbox/sendgrid/messages/{ann['provider_message_id']}/events",
        json={"event": "bounce", "signing": "wrong"},
    )
    assert forged.json()["webhook"]["status"] == 403, forged.text
    unsigned = await sendgrid.sandbox.post(
        f"/sandbox/sendgrid/messages/{ann['provider_message_id']}/events",
        json={"event": "dropped", "signing": "none"},
    )
    assert unsigned.json()["webhook"]["status"] == 403, unsigned.text
    stale = await sendgrid.sandbox.post(
        f"/sandbox/sendgrid/messages/{ann['provider_message_id']}/events",
        json={"event": "bounce", "timestamp": str(int(time.time()) - 3600)},
    )
    assert stale.json()["webhook"]["status"] == 403, stale.text

    wrong = sendgrid.webhooks["inbound_parse"].rsplit("/", 1)[0] + "/not-the-secret"
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(
            wrong,
            data={"from": CUSTOMER, "to": sendgrid.inbound_address, "text": "hi"},
            files={"attachment1": ("a.txt", b"x", "text/plain")},
        )
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"

    await asyncio.sleep(1.0)  # what the gateway would have published by now
    forged_ids = {
        w["webhook"]["payload"][0]["sg_event_id"]
        for w in (forged.json(), unsigned.json(), stale.json())
    }
    assert not [
        m
        for m in observer.seen
        if m.type == "DeliveryStatusReported" and m.value["event_id"].split(":", 1)[1] in forged_ids
    ]
    assert not [
        m
        for m in observer.seen
        if m.type == "TriggerReceived" and m.value.get("channel") == "email"
    ]
    again = (await messages_of(api, execution["id"], {"ann": "delivered"}))["ann"]
    assert again["error"] is None
