"""SMS replies on the real stack: a customer's SMS (the provider sandbox plays Twilio and the
customer) starts a workflow whose Send Reply goes back by SMS through the notifier and the
twilio SDK; Twilio's status callbacks come back through the gateway, and the message ends
`delivered` in the conversation's log and the execution's messages (its StatusCallback names
the message, so the reports are recorded by its id: none is kept for a lookup). A number the
carrier does not deliver to ends `undelivered`, one that unsubscribed is refused at once: both
visible on the message, the conversation and the execution (DeliveryFailed)."""

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
CUSTOMER = "+14155550199"
UNDELIVERABLE = "+15005553005"  # the sandbox's carrier answers 30005 (unknown handset)
UNSUBSCRIBED = "+15005550004"  # the sandbox refuses it at create: 21610


def sms_reply_workflow() -> dict[str, Any]:
    """An SMS in, a reply out on the trigger's channel (sms)."""
    return {
        "name": "SMS auto-reply",
        "triggerType": "Incoming Message",
        "nodes": [
            {
                "id": "t",
                "type": "trigger",
                "label": "Incoming Message",
                "config": {"channels": ["sms"]},
            },
            {
                "id": "reply",
                "type": "action",
                "label": "Send Reply",
                "config": {"message": "Got it: {{trigger.text}}"},
            },
        ],
        "edges": [{"id": "e1", "source": "t", "target": "reply"}],
    }


@dataclass
class Twilio:
    """The tenant's sandbox account and number, connected in the gateway."""

    sandbox: httpx.AsyncClient
    account_sid: str
    number: str
    status_webhook: str

    async def inbound(self, sender: str, body: str) -> dict[str, Any]:
        answer = await self.sandbox.post(
            "/sandbox/twilio/inbound", json={"from": sender, "to": self.number, "body": body}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == 200, answer.json()  # the gateway took it
        result: dict[str, Any] = answer.json()
        return result

    async def sent_to(self, to: str) -> list[dict[str, Any]]:
        """What the sandbox received from the notifier (outbound API messages) for ``to``."""
        listed = await self.sandbox.get(
            "/sandbox/twilio/messages",
            params={"account_sid": self.account_sid, "to": to, "direction": "outbound-api"},
        )
        assert listed.status_code == 200, listed.text
        found: list[dict[str, Any]] = listed.json()["messages"]
        return found


@pytest.fixture
async def twilio(api: TenantApi) -> AsyncIterator[Twilio]:
    async with httpx.AsyncClient(base_url=SANDBOX_URL, timeout=30) as sandbox:
        made = await sandbox.post("/sandbox/twilio/accounts", json={"friendly_name": "Acme"})
        assert made.status_code == 201, made.text
        sid, token = made.json()["account_sid"], made.json()["auth_token"]
        number = f"+1628{secrets.randbelow(10**7):07d}"
        connected = await api.http.put(
            "/v1/channels/twilio",
            json={"account_sid": sid, "auth_token": token, "numbers": [{"phone_number": number}]},
            headers=api.tenant.headers,
        )
        assert connected.status_code == 200, connected.text
        webhooks = connected.json()["webhooks"]
        bought = await sandbox.post(
            f"/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json",
            data={"PhoneNumber": number, "SmsUrl": webhooks["messages"]},
            auth=(sid, token),
        )
        assert bought.status_code == 201, bought.text
        yield Twilio(sandbox, sid, number, webhooks["status"])


@pytest.fixture
async def observer(stack: Any) -> AsyncIterator[KafkaObserver]:
    seen = KafkaObserver(
        stack.kafka, [topics.TRIGGERS, topics.EXECUTIONS], alive=stack.assert_alive
    )
    await seen.start()
    try:
        yield seen
    finally:
        await seen.stop()


async def replied_execution(
    api: TenantApi, observer: KafkaObserver, twilio: Twilio, sender: str, body: str
) -> dict[str, Any]:
    """The customer writes; the execution that answered them, finished."""
    answered = await twilio.inbound(sender, body)

    def trigger(m: Seen) -> bool:
        return (
            m.type == "TriggerReceived"
            and (m.value.get("message") or {}).get("provider_message_id") == answered["message_sid"]
        )

    [seen] = await observer.wait_for(trigger)
    execution = await api.finished_execution(seen.value["trigger_id"])
    assert execution["status"] == "completed", execution
    assert execution["conversation_id"] == seen.value["conversation_id"]
    return execution


async def outbound_message(
    api: TenantApi, execution: dict[str, Any], until: set[str], timeout: float = 30
) -> dict[str, Any]:
    """The execution's one outbound message (GET /v1/executions/{id}/messages), once its
    status is one of ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        listed = await api.http.get(
            f"/v1/executions/{execution['id']}/messages", headers=api.tenant.headers
        )
        assert listed.status_code == 200, listed.text
        messages = listed.json()["messages"]
        if messages and messages[0]["status"] in until:
            assert len(messages) == 1, messages
            message: dict[str, Any] = messages[0]
            return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no message of {execution['id']} in {until}: {messages}")
        await asyncio.sleep(0.1)


async def conversation_message(api: TenantApi, conversation_id: str, message_id: str) -> Any:
    """The message as the conversation's log shows it (GET /v1/conversations/{id})."""
    got = await api.http.get(f"/v1/conversations/{conversation_id}", headers=api.tenant.headers)
    assert got.status_code == 200, got.text
    return next(m for m in got.json()["messages"] if m["id"] == message_id)


async def test_an_sms_reply_is_sent_through_twilio_and_ends_delivered(
    api: TenantApi, twilio: Twilio, observer: KafkaObserver, mongo: Any
) -> None:
    await api.activate(sms_reply_workflow())
    execution = await replied_execution(api, observer, twilio, CUSTOMER, "Where is my order?")

    message = await outbound_message(api, execution, {"delivered"})
    assert message["direction"] == "outbound" and message["channel"] == "sms"
    assert message["body"] == "Got it: Where is my order?"
    assert (message["to"], message["from"]) == (CUSTOMER, twilio.number)
    assert message["provider"] == "twilio" and message["provider_message_id"].startswith("SM")
    assert [h["status"] for h in message["status_history"]] == [
        "pending",
        "queued",
        "sent",
        "delivered",
    ]
    assert message["error"] is None and message["node_id"] == "reply"
    # Twilio got it from the notifier, with the gateway as its status callback, naming it
    [sent] = await twilio.sent_to(CUSTOMER)
    assert sent["sid"] == message["provider_message_id"]
    assert sent["body"] == message["body"] and sent["from"] == twilio.number
    assert sent["status_callback"] == f"{twilio.status_webhook}?message_id={message['id']}"
    assert [c["response"]["status"] for c in sent["callbacks"]] == [204, 204]
    # recorded by the message's id: no report kept for a lookup; the record is on the message
    assert mongo.delivery_reports.count_documents({"provider_message_id": sent["sid"]}) == 0
    stored_message = mongo.messages.find_one({"_id": message["id"]})
    assert stored_message["notification"]["status"] == "sent"
    assert mongo.notifications.find_one({"execution_id": execution["id"]}) is None
    # the same in the conversation's log, after the customer's message
    in_log = await conversation_message(api, execution["conversation_id"], message["id"])
    assert in_log["status"] == "delivered"
    got = await api.http.get(
        f"/v1/conversations/{execution['conversation_id']}", headers=api.tenant.headers
    )
    conversation = got.json()
    assert [m["direction"] for m in conversation["messages"]] == ["inbound", "outbound"]
    assert conversation["last_outbound_at"] is not None
    stored = mongo.conversations.find_one(
        {"_id": f"{api.tenant.tenant_id}:{execution['conversation_id']}"}
    )
    assert "last_delivery_failure" not in stored


async def test_a_reply_the_carrier_does_not_deliver_is_a_failure_everyone_sees(
    api: TenantApi, twilio: Twilio, observer: KafkaObserver, mongo: Any
) -> None:
    await api.activate(sms_reply_workflow())
    execution = await replied_execution(api, observer, twilio, UNDELIVERABLE, "Hello?")

    message = await outbound_message(api, execution, {"undelivered"})
    assert [h["status"] for h in message["status_history"]] == [
        "pending",
        "queued",
        "sent",
        "undelivered",
    ]
    assert message["error"] == {
        "type": "InvalidRecipient",
        "code": 30005,
        "message": "Unknown destination handset",
        "retryable": False,
    }
    in_log = await conversation_message(api, execution["conversation_id"], message["id"])
    assert in_log["status"] == "undelivered" and in_log["error"]["code"] == 30005
    stored = mongo.conversations.find_one(
        {"_id": f"{api.tenant.tenant_id}:{execution['conversation_id']}"}
    )
    failure = stored["last_delivery_failure"]
    assert failure["message_id"] == message["id"] and failure["status"] == "undelivered"
    assert failure["error"]["type"] == "InvalidRecipient"
    [announced] = await observer.wait_for(
        lambda m: m.type == "DeliveryFailed" and m.key == execution["id"]
    )
    assert announced.value["message_id"] == message["id"]
    assert announced.value["provider_message_id"] == message["provider_message_id"]
    assert announced.value["status"] == "undelivered"
    assert announced.value["error"]["code"] == 30005


async def test_a_reply_to_an_unsubscribed_number_is_refused_and_shown_at_once(
    api: TenantApi, twilio: Twilio, observer: KafkaObserver, mongo: Any
) -> None:
    await api.activate(sms_reply_workflow())
    execution = await replied_execution(api, observer, twilio, UNSUBSCRIBED, "STOP?")

    message = await outbound_message(api, execution, {"failed"})
    assert message["provider_message_id"] is None
    assert message["error"]["type"] == "RecipientUnsubscribed"
    assert message["error"]["code"] == 21610 and message["error"]["retryable"] is False
    assert [h["status"] for h in message["status_history"]] == ["pending", "failed"]
    assert await twilio.sent_to(UNSUBSCRIBED) == []  # refused: Twilio created nothing
    [announced] = await observer.wait_for(
        lambda m: m.type == "DeliveryFailed" and m.key == execution["id"]
    )
    assert announced.value["error"]["type"] == "RecipientUnsubscribed"
    stored = mongo.conversations.find_one(
        {"_id": f"{api.tenant.tenant_id}:{execution['conversation_id']}"}
    )
    assert stored["last_delivery_failure"]["error"]["code"] == 21610
