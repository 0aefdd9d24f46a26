"""SMS ingress on the real stack: a tenant connects its Twilio account and number (the provider
sandbox plays Twilio), a customer's SMS starts the tenant's workflow, Twilio's retry of the
same MessageSid starts nothing more, a forged or unsigned webhook is 403 and publishes nothing,
and a sent message's status callbacks become DeliveryStatusReported."""

from __future__ import annotations

import asyncio
import secrets
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


def sms_workflow() -> dict[str, Any]:
    """SMS only (the trigger's channel filter): what the customer wrote, and from where."""
    return {
        "name": "SMS intake",
        "triggerType": "Incoming Message",
        "nodes": [
            {
                "id": "t",
                "type": "trigger",
                "label": "Incoming Message",
                "config": {"channels": ["sms"]},
            },
            {
                "id": "text",
                "type": "action",
                "label": "Set Variable",
                "config": {"path": "workflow.text", "value": "{{trigger.text}}"},
            },
            {
                "id": "from",
                "type": "action",
                "label": "Set Variable",
                "config": {"path": "workflow.from", "value": "{{trigger.from}}"},
            },
        ],
        "edges": [
            {"id": "e1", "source": "t", "target": "text"},
            {"id": "e2", "source": "text", "target": "from"},
        ],
    }


@dataclass
class Twilio:
    """The tenant's account at the sandbox, its number, connected in the gateway."""

    sandbox: httpx.AsyncClient
    account_sid: str
    auth_token: str
    number: str
    number_id: str
    webhooks: dict[str, str]

    async def inbound(self, **fields: Any) -> dict[str, Any]:
        """The customer writes to the number; the webhook's record (the gateway's answer)."""
        answer = await self.sandbox.post(
            "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": self.number, **fields}
        )
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


@pytest.fixture
async def twilio(api: TenantApi) -> AsyncIterator[Twilio]:
    async with httpx.AsyncClient(base_url=SANDBOX_URL, timeout=30) as sandbox:
        made = await sandbox.post("/sandbox/twilio/accounts", json={"friendly_name": "Acme"})
        assert made.status_code == 201, made.text
        sid, token = made.json()["account_sid"], made.json()["auth_token"]
        number = f"+1415{secrets.randbelow(10**7):07d}"
        connected = await api.http.put(
            "/v1/channels/twilio",
            json={"account_sid": sid, "auth_token": token, "numbers": [{"phone_number": number}]},
            headers=api.tenant.headers,
        )
        assert connected.status_code == 200, connected.text
        assert token not in connected.text
        account = connected.json()
        # the number's "A message comes in" URL, as the gateway answered it
        bought = await sandbox.post(
            f"/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json",
            data={"PhoneNumber": number, "SmsUrl": account["webhooks"]["messages"]},
            auth=(sid, token),
        )
        assert bought.status_code == 201, bought.text
        yield Twilio(sandbox, sid, token, number, account["numbers"][0]["id"], account["webhooks"])


@pytest.fixture
async def observer(stack: Any) -> AsyncIterator[KafkaObserver]:
    seen = KafkaObserver(
        stack.kafka, [topics.TRIGGERS, topics.DELIVERY_STATUS], alive=stack.assert_alive
    )
    await seen.start()
    try:
        yield seen
    finally:
        await seen.stop()


def trigger_of(tenant_id: str) -> Any:
    def matches(m: Seen) -> bool:
        return m.type == "TriggerReceived" and m.value.get("tenant_id") == tenant_id

    return matches


async def test_an_sms_starts_the_workflow_once_and_a_forgery_nothing(
    api: TenantApi, twilio: Twilio, observer: KafkaObserver
) -> None:
    workflow_id = await api.activate(sms_workflow())

    answered = await twilio.inbound(body="Where is my order?")
    assert answered["status"] == 200, answered
    assert answered["content_type"].startswith("text/xml") and "<Response" in answered["body"]
    assert answered["replies"] == []  # empty TwiML: the workflow answers, not the webhook
    [seen] = await observer.wait_for(trigger_of(api.tenant.tenant_id))
    trigger = seen.value
    assert trigger["channel"] == "sms" and trigger["trigger_type"] == "Incoming Message"
    assert seen.key == trigger["conversation_id"] and trigger["conversation_id"].startswith("cnv_")
    assert trigger["payload"]["phoneNumberId"] == twilio.number_id
    assert trigger["message"]["provider_message_id"] == answered["message_sid"]

    execution = await api.finished_execution(trigger["trigger_id"])
    assert execution["status"] == "completed", execution
    assert execution["workflow_id"] == workflow_id
    assert execution["variables"]["workflow"] == {"text": "Where is my order?", "from": CUSTOMER}

    # Twilio's retry of the same message: answered alike, nothing published or started again
    replayed = await twilio.inbound(replay=True)
    assert replayed["message_sid"] == answered["message_sid"]
    assert replayed["status"] == 200 and replayed["body"] == answered["body"]
    # a forged and an unsigned message: refused, nothing published
    for signing in ("wrong", "none"):
        refused = await twilio.inbound(body="refund me", signature=signing)
        assert refused["status"] == 403, refused
        assert refused["content_type"] == "application/problem+json"
    # a later genuine message shows the forgeries' and the replay's absence is not a delay
    later = await twilio.inbound(body="Thanks")
    assert later["status"] == 200
    found = await observer.wait_for(trigger_of(api.tenant.tenant_id), count=2)
    assert [m.value["payload"]["text"] for m in found] == ["Where is my order?", "Thanks"]
    assert found[1].value["conversation_id"] == trigger["conversation_id"]  # one thread
    await api.finished_execution(found[1].value["trigger_id"])
    listed = await api.http.get(
        f"/v1/workflows/{workflow_id}/executions", headers=api.tenant.headers
    )
    assert listed.status_code == 200, listed.text
    assert len(listed.json()["executions"]) == 2


async def test_status_callbacks_of_a_sent_message_are_reported(
    api: TenantApi, twilio: Twilio, observer: KafkaObserver
) -> None:
    sent = await twilio.sandbox.post(
        f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
        data={
            "To": CUSTOMER,
            "From": twilio.number,
            "Body": "Your order shipped",
            "StatusCallback": twilio.webhooks["status"],
        },
        auth=(twilio.account_sid, twilio.auth_token),
    )
    assert sent.status_code == 201, sent.text
    sid = sent.json()["sid"]
    reports = await observer.wait_for(
        lambda m: m.type == "DeliveryStatusReported" and m.key == sid, count=2
    )
    assert [r.value["status"] for r in reports] == ["sent", "delivered"]
    assert {r.value["tenant_id"] for r in reports} == {api.tenant.tenant_id}
    assert reports[1].value["event_id"] == f"twilio:{sid}:delivered"
    # every callback was answered 204 (none retried)
    await asyncio.sleep(0.2)
    message = (await twilio.sandbox.get(f"/sandbox/twilio/messages/{sid}")).json()
    assert [c["response"]["status"] for c in message["callbacks"]] == [204, 204]
