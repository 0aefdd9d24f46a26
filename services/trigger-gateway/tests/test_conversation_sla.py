"""A conversation's priority and SLA clocks: `sla` of GET /v1/conversations/{id} and
/v1/conversations/{id}/sla, reckoned now from the tenant's policies, the conversation's
status log and its messages (running, paused outside business hours or waiting on the
customer, met, breached); every status the gateway writes (PATCH, return to bot, a call that
ended) lands in the status log. On the real ConversationRepository over the in-memory database
and FerretDB (``resources_db``); the conversations are stored as the executor and notifier
store them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from clocks.conversations import aware
from contracts.conversations import conversation_ref
from trigger_gateway.adapters.conversations import ConversationRepository
from trigger_gateway.adapters.locks import Locks
from trigger_gateway.adapters.sla_policies import SlaPolicyRepository
from trigger_gateway.domain.conversation_keys import conversation_id_for
from twilio.request_validator import RequestValidator

HOUR = {"metric": "first_response", "seconds": 3600}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Conversations:
    kb: Any
    now: datetime  # the test's start: the gateway reckons from its own now, a moment later

    def as_tenant(self, key: str = "key-a") -> dict[str, str]:
        return dict(self.kb.as_tenant(key))

    def ago(self, **delta: float) -> datetime:
        return (self.now - timedelta(**delta)).replace(microsecond=0)

    async def policy(self, key: str = "key-a", **spec: Any) -> dict[str, Any]:
        body = {"name": "Support " + secrets.token_hex(3), "targets": [HOUR], **spec}
        answer = await self.kb.client.post(
            "/v1/sla-policies", json=body, headers=self.as_tenant(key)
        )
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def conversation(self, tenant: str = "ten_a", **fields: Any) -> str:
        """A conversation as the executor stores it (``fields`` over an open SMS one)."""
        conversation_id = "conv-" + secrets.token_hex(4)
        doc = {
            "_id": conversation_ref(tenant, conversation_id),
            "tenant_id": tenant,
            "conversation_id": conversation_id,
            "channel": "sms",
            "status": "open",
            "tags": [],
            "created_at": self.ago(hours=3),
            "last_message_at": self.ago(minutes=1),
            **fields,
        }
        await self.kb.db.conversations.insert_one({k: v for k, v in doc.items() if v is not None})
        return conversation_id

    async def message(
        self, conversation_id: str, direction: str, at: datetime, tenant: str = "ten_a", **more: Any
    ) -> None:
        """A logged message, as the executor (inbound) and the notifier (outbound) log it."""
        await self.kb.db.messages.insert_one(
            {
                "_id": "msg_" + secrets.token_hex(12),
                "tenant_id": tenant,
                "conversation_id": conversation_id,
                "direction": direction,
                "channel": "sms",
                "body": "where is my order?" if direction == "inbound" else "on its way",
                "created_at": at,
                **more,
            }
        )

    async def sla(self, conversation_id: str, key: str = "key-a") -> Any:
        path = f"/v1/conversations/{conversation_id}"
        one = await self.kb.client.get(path, headers=self.as_tenant(key))
        alone = await self.kb.client.get(f"{path}/sla", headers=self.as_tenant(key))
        assert one.status_code == alone.status_code == 200, (one.text, alone.text)
        assert _still(one.json()["sla"]) == _still(alone.json())  # the same view, a moment apart
        return alone.json()

    async def patch(self, conversation_id: str, **change: Any) -> Any:
        return await self.kb.client.patch(
            f"/v1/conversations/{conversation_id}", json=change, headers=self.as_tenant()
        )

    async def stored(self, conversation_id: str) -> dict[str, Any]:
        found = await self.kb.db.conversations.find_one(
            {"_id": conversation_ref("ten_a", conversation_id)}
        )
        assert found is not None
        return dict(found)


@pytest.fixture
async def conv(kb: Any) -> Conversations:
    app = kb.gw.client.app.app
    app.state.gateway = replace(app.state.gateway, conversations=ConversationRepository(kb.db))
    policies = SlaPolicyRepository(kb.db, Locks(kb.db))
    await policies.ensure_indexes()
    app.state.sla_policies = policies
    return Conversations(kb, datetime.now(UTC))


def _still(view: Any) -> Any:
    """A view less what a running clock changes from one moment to the next."""
    moving = ("elapsed_seconds", "remaining_seconds", "overrun_seconds")
    if view is None:
        return None
    clocks = [{k: v for k, v in c.items() if k not in moving} for c in view["clocks"]]
    return {**view, "clocks": clocks}


def at(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _the(view: Any, metric: str = "first_response") -> dict[str, Any]:
    [clock] = [c for c in view["clocks"] if c["metric"] == metric]
    return dict(clock)


async def test_without_a_policy_there_are_no_clocks(conv: Conversations) -> None:
    conversation = await conv.conversation()
    await conv.message(conversation, "inbound", conv.ago(minutes=10))
    assert await conv.sla(conversation) is None
    one = await conv.kb.client.get(f"/v1/conversations/{conversation}", headers=conv.as_tenant())
    assert one.json()["priority"] == "normal" and one.json()["sla"] is None
    await conv.policy(channels=["email"])  # covers another channel only
    await conv.policy(name="Off", is_active=False)
    assert await conv.sla(conversation) is None


async def test_an_unanswered_message_runs_the_first_response_clock(conv: Conversations) -> None:
    policy = await conv.policy()
    conversation = await conv.conversation()
    asked = conv.ago(minutes=10)
    await conv.message(conversation, "inbound", asked)
    view = await conv.sla(conversation)
    assert view["policy_id"] == policy["id"] and view["policy_name"] == policy["name"]
    clock = _the(view)
    assert clock["state"] == "running" and clock["paused_because"] is None
    assert at(clock["started_at"]) == asked and clock["stopped_at"] is None
    assert clock["target_seconds"] == 3600
    assert 600 <= clock["elapsed_seconds"] < 660
    assert clock["remaining_seconds"] == pytest.approx(3600 - clock["elapsed_seconds"], abs=1e-3)
    assert clock["overrun_seconds"] == 0 and clock["at_risk"] is False
    assert at(clock["due_at"]) == asked + timedelta(hours=1)
    assert at(clock["at_risk_at"]) == asked + timedelta(minutes=48)  # 0.8 of the hour
    assert [c["metric"] for c in view["clocks"]] == ["first_response"]  # no other targets


async def test_a_reply_meets_the_clock_and_a_late_one_breaches_it(conv: Conversations) -> None:
    await conv.policy(targets=[HOUR, {"metric": "resolution", "seconds": 8 * 3600}])
    answered = await conv.conversation()
    asked = conv.ago(minutes=30)
    await conv.message(answered, "inbound", asked)
    await conv.message(answered, "outbound", conv.ago(minutes=30, seconds=-75), status="sent")
    view = await conv.sla(answered)
    first = _the(view)
    assert first["state"] == "met" and first["stopped_by"] == "reply"
    assert first["elapsed_seconds"] == 75 and at(first["stopped_at"]) == asked + timedelta(
        seconds=75
    )
    assert _the(view, "resolution")["state"] == "running"

    late = await conv.conversation()
    asked = conv.ago(hours=2)
    await conv.message(late, "inbound", asked)
    await conv.message(late, "outbound", conv.ago(minutes=5), status="failed")  # answered nobody
    clock = _the(await conv.sla(late))
    assert clock["state"] == "breached" and clock["at_risk"] is True
    assert at(clock["due_at"]) == asked + timedelta(hours=1)
    assert 3600 <= clock["overrun_seconds"] < 3660 and clock["remaining_seconds"] == 0


async def test_outside_business_hours_the_clock_is_paused(conv: Conversations) -> None:
    # open one day a week, three days from today: neither now nor ten minutes ago is open
    day = WEEKDAYS[(conv.now.weekday() + 3) % 7]
    hours = {"timezone": "UTC", "weekly": {day: [{"start": "09:00", "end": "17:00"}]}}
    await conv.policy(business_hours=hours)
    conversation = await conv.conversation()
    await conv.message(conversation, "inbound", conv.ago(minutes=10))
    clock = _the(await conv.sla(conversation))
    assert clock["state"] == "paused" and clock["paused_because"] == "outside business hours"
    assert clock["elapsed_seconds"] == 0 and clock["remaining_seconds"] == 3600
    due = at(clock["due_at"])
    assert due is not None and due.strftime("%a").lower() == day and due.hour == 10


async def test_waiting_on_the_customer_pauses_the_clock(conv: Conversations) -> None:
    asked, waiting = conv.ago(minutes=30), conv.ago(minutes=5)
    conversation = await conv.conversation(
        status="waiting_on_customer",
        status_log=[
            {"status": "open", "at": asked},
            {"status": "waiting_on_customer", "at": waiting},
        ],
    )
    await conv.message(conversation, "inbound", asked)
    await conv.policy()
    clock = _the(await conv.sla(conversation))
    assert clock["state"] == "paused" and clock["paused_because"] == "waiting on the customer"
    assert clock["elapsed_seconds"] == 25 * 60  # until the wait began, exactly
    assert clock["due_at"] is None and clock["at_risk_at"] is None  # unknown while it waits

    await conv.policy(name="A first", position=0, pause_while_waiting_on_customer=False)
    clock = _the(await conv.sla(conversation))  # the first policy by position decides
    assert clock["state"] == "running" and clock["elapsed_seconds"] >= 30 * 60


async def test_the_policy_is_the_first_by_position_covering_the_channel(
    conv: Conversations,
) -> None:
    conversation = await conv.conversation()
    await conv.message(conversation, "inbound", conv.ago(minutes=10))
    await conv.policy(name="Everything", position=5)
    sms = await conv.policy(name="Texts", position=2, channels=["sms", "whatsapp"])
    await conv.policy(name="Emails", position=0, channels=["email"])
    await conv.policy(name="Retired", position=0, is_active=False)
    await conv.policy("key-b", name="Theirs", position=0)
    assert (await conv.sla(conversation))["policy_id"] == sms["id"]


async def test_the_priority_chooses_the_target(conv: Conversations, expect_problem: Any) -> None:
    urgent = {"metric": "first_response", "seconds": 600, "priority": "urgent"}
    by_channel = {"metric": "first_response", "seconds": 1800, "channel": "sms"}
    await conv.policy(targets=[HOUR, urgent, by_channel])
    conversation = await conv.conversation()
    await conv.message(conversation, "inbound", conv.ago(minutes=1))
    assert _the(await conv.sla(conversation))["target_seconds"] == 1800  # sms, any priority
    changed = await conv.patch(conversation, priority="urgent")
    assert changed.status_code == 200, changed.text
    assert changed.json()["priority"] == "urgent"
    assert (await conv.stored(conversation))["priority"] == "urgent"
    assert _the(await conv.sla(conversation))["target_seconds"] == 600
    listed = await conv.kb.client.get("/v1/conversations", headers=conv.as_tenant())
    assert [c["priority"] for c in listed.json()["conversations"]] == ["urgent"]
    problem = expect_problem(await conv.patch(conversation, priority="critical"), 422)
    assert [e["name"] for e in problem["errors"]] == ["body.priority"]
    back = await conv.patch(conversation, priority=None)
    assert back.json()["priority"] == "normal"
    assert _the(await conv.sla(conversation))["target_seconds"] == 1800


async def test_a_status_patched_is_logged_once_per_change(conv: Conversations) -> None:
    await conv.policy(targets=[HOUR, {"metric": "resolution", "seconds": 86400}])
    conversation = await conv.conversation(status=None)  # none yet, as an upsert may leave it
    await conv.message(conversation, "inbound", conv.ago(minutes=10))
    waiting = await conv.patch(conversation, status="waiting_on_customer")
    assert waiting.status_code == 200 and waiting.json()["status"] == "waiting_on_customer"
    again = await conv.patch(conversation, status="waiting_on_customer", add_tags=["vip"])
    assert again.json()["tags"] == ["vip"]
    stored = await conv.stored(conversation)
    log = [(e["status"], aware(e["at"])) for e in stored["status_log"]]
    assert log == [("waiting_on_customer", aware(stored["status_at"]))]
    assert _the(await conv.sla(conversation))["paused_because"] == "waiting on the customer"

    closed = await conv.patch(conversation, status="closed")
    assert closed.json()["status"] == "closed"
    stored = await conv.stored(conversation)
    assert [e["status"] for e in stored["status_log"]] == ["waiting_on_customer", "closed"]
    view = await conv.sla(conversation)
    assert _the(view)["state"] == "met" and _the(view)["stopped_by"] == "closed"
    assert _the(view, "resolution")["state"] == "met"
    unknown = await conv.patch("conv-nope", status="closed")
    assert unknown.status_code == 404


async def test_returning_to_the_bot_is_logged(conv: Conversations) -> None:
    conversation = await conv.conversation(status="with_agent", assignee="agt_1")
    answer = await conv.kb.client.post(
        f"/v1/conversations/{conversation}/return-to-bot", json={}, headers=conv.as_tenant()
    )
    assert answer.status_code == 200, answer.text
    stored = await conv.stored(conversation)
    assert stored["status"] == "open" and stored["assignee"] is None
    assert [e["status"] for e in stored["status_log"]] == ["open"]


async def test_a_call_that_ended_closes_its_conversation_in_the_log(conv: Conversations) -> None:
    sid, token, number, caller = "AC" + "c" * 32, "0123456789abcdef" * 2, "+15550003333", "+155599"
    account = {"account_sid": sid, "auth_token": token, "numbers": [{"phone_number": number}]}
    put = await conv.kb.client.put("/v1/channels/twilio", json=account, headers=conv.as_tenant())
    assert put.status_code == 200, put.text
    call = "CA" + "1" * 32
    conversation_id = conversation_id_for("ten_a", "voice", caller, f"{number}/{call}")
    await conv.kb.db.conversations.insert_one(
        {
            "_id": conversation_ref("ten_a", conversation_id),
            "tenant_id": "ten_a",
            "conversation_id": conversation_id,
            "channel": "voice",
            "status": "open",
        }
    )
    params = {"CallSid": call, "AccountSid": sid, "From": caller, "To": number}
    params["CallStatus"] = "completed"
    url = "http://gw.test/webhooks/twilio/voice/status"
    answer = await conv.kb.client.post(
        "/webhooks/twilio/voice/status",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": RequestValidator(token).compute_signature(url, params),
        },
    )
    assert answer.status_code == 204, answer.text
    stored = await conv.stored(conversation_id)
    assert stored["status"] == "closed" and stored["closed_reason"] == "call completed"
    assert [e["status"] for e in stored["status_log"]] == ["closed"]


async def test_another_tenants_conversation_has_no_clocks_to_see(
    conv: Conversations, expect_problem: Any
) -> None:
    await conv.policy()
    theirs = await conv.conversation(tenant="ten_b")
    for path in (f"/v1/conversations/{theirs}/sla", "/v1/conversations/conv-nope/sla"):
        answer = await conv.kb.client.get(path, headers=conv.as_tenant())
        assert "no conversation" in expect_problem(answer, 404)["detail"]
