"""SMS and WhatsApp through the tenant's Twilio account (a stand-in of the SDK sender): the
addresses from the request or the conversation, the message logged with its record before it is
sent (one write before, one after), its StatusCallback naming it, sent once per idempotency
key, Twilio's refusals as typed errors the workflow sees, and the failure on the message, the
conversation and in DeliveryFailed."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts import topics
from contracts.events import DeliveryFailed, EffectSettled, ReplySent
from notifier.adapters.twilio_client import SendFailed
from notifier.domain.delivery import addressed, logged, message_id, plan_delivery
from notifier.domain.errors import refused, unreachable
from servicekit.testing import running


def sms_node(notifier, n: int = 1, **params: object):
    """Twilio SMS (integration.twilio_sms): awaits its result."""
    return notifier.request(
        n,
        kind="integration.twilio_sms",
        channel="chat",  # the trigger's channel: the node sends an SMS whatever it is
        request={"integration": "twilio", "action": "sendSms", "params": params},
        awaits_result=True,
    )


def sms_reply(notifier, n: int = 1, channel: str = "sms"):
    return notifier.request(
        n, channel=channel, request={"channel": channel, "message": f"Your order {n} shipped"}
    )


async def test_a_reply_on_sms_goes_to_the_conversations_customer_from_its_number(notifier) -> None:
    notifier.connect_twilio("+14155550000", notifier.tenant_number)
    notifier.conversation("conv-1")
    notifier.send(sms_reply(notifier))
    await notifier.run()

    (sent,) = notifier.twilio.sent
    assert (sent.to, sent.from_) == (notifier.customer, notifier.tenant_number)
    assert sent.body == "Your order 1 shipped" and sent.account_sid == notifier.account_sid
    assert sent.status_callback == f"{notifier.callback}?message_id={message_id('exe_1:reply:1:1')}"
    (message,) = notifier.messages()
    assert message["_id"] == message_id("exe_1:reply:1:1")
    assert message["channel"] == "sms" and message["provider"] == "twilio"
    assert (message["to"], message["from"]) == (notifier.customer, notifier.tenant_number)
    assert message["provider_message_id"] == "SM" + "1".zfill(32)
    assert message["status"] == "queued"
    assert [h["status"] for h in message["status_history"]] == ["pending", "queued"]
    assert message["error"] is None
    assert "last_outbound_at" not in notifier.db.conversations.docs["ten_1:conv-1"]  # executor's
    record = message["notification"]  # what a redelivered request is answered from
    assert (record["idempotency_key"], record["status"]) == ("exe_1:reply:1:1", "sent")
    assert record["result"]["sid"] == sent_sid(1)
    # it went out: ReplySent (the tenants' webhooks get it as message.sent), by conversation
    (reply,) = notifier.events(topics.REPLIES, ReplySent)
    assert (reply.channel, reply.provider_message_id) == ("sms", sent_sid(1))
    assert (reply.message_id, reply.message) == (message["_id"], "Your order 1 shipped")
    assert [r.key for r in notifier.broker.records(topics.REPLIES)] == [b"conv-1"]


async def test_a_reply_that_names_its_conversations_addresses_reads_no_conversation(
    notifier,
) -> None:
    notifier.connect_twilio("+14155550000", notifier.tenant_number)
    request = sms_reply(notifier).model_copy(
        update={"contact_address": "+15550009999", "tenant_address": notifier.tenant_number}
    )
    notifier.send(request)  # no conversation document at all
    await notifier.run()

    (sent,) = notifier.twilio.sent
    assert (sent.to, sent.from_) == ("+15550009999", notifier.tenant_number)
    assert ("conversations", "find") not in notifier.db.commands


def sent_sid(n: int) -> str:
    return "SM" + str(n).zfill(32)


async def test_an_sms_costs_one_write_before_its_send_and_one_after(notifier) -> None:
    notifier.connect_twilio()
    for n in (1, 2):
        notifier.conversation(f"conv-{n}")
        notifier.send(sms_reply(notifier, n))  # read before the consumer starts: one batch
    await notifier.run()

    assert len(notifier.twilio.sent) == 2
    writes = [c for c in notifier.db.commands if c[0] not in READ_FOR_ADDRESSES]
    assert writes == [("messages", "bulk_write")] * 2
    assert [ops for _, ops in notifier.db.bulk_ops] == [["InsertOne"] * 2, ["UpdateOne"] * 2]
    assert notifier.db.notifications.docs == {} and notifier.db.delivery_reports.docs == {}


READ_FOR_ADDRESSES = ("conversations", "twilio_accounts", "phone_numbers")


async def test_whatsapp_addresses_are_twilios_whatsapp_form(notifier) -> None:
    notifier.connect_twilio(notifier.tenant_number, whatsapp=True)
    notifier.conversation("conv-1")
    notifier.send(sms_reply(notifier, channel="whatsapp"))
    await notifier.run()
    (sent,) = notifier.twilio.sent
    assert sent.to == "whatsapp:" + notifier.customer
    assert sent.from_ == "whatsapp:" + notifier.tenant_number


async def test_the_sms_node_names_its_addresses_and_gets_the_sid_back(notifier) -> None:
    notifier.connect_twilio(notifier.tenant_number)
    request = sms_node(
        notifier,
        to="+14155550123",
        body="Code 1234",
        mediaUrl=["https://cdn.test/a.png"],
    )
    notifier.send(request)
    await notifier.run()

    (sent,) = notifier.twilio.sent
    assert (sent.to, sent.from_) == ("+14155550123", notifier.tenant_number)  # its first number
    assert sent.media == ["https://cdn.test/a.png"]
    (settled,) = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert settled.error is None
    assert settled.result["sid"] == sent_sid(1) and settled.result["status"] == "queued"
    assert settled.result["message_id"] == message_id(request.idempotency_key)
    (message,) = notifier.messages()
    assert message["media"] == [{"url": "https://cdn.test/a.png", "content_type": None}]


async def test_a_redelivered_request_is_sent_once_and_answered_alike(notifier) -> None:
    notifier.connect_twilio()
    request = sms_node(notifier, to=notifier.customer, body="hi")
    async with running(notifier.kit):
        notifier.send(request)
        await notifier.broker.idle()
        notifier.send(request)  # Kafka delivers it again (a rebalance, a restart)
        await notifier.broker.idle()

    assert len(notifier.twilio.sent) == 1
    first, second = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert first.command_id == second.command_id and first.result == second.result
    assert len(notifier.messages()) == 1


async def test_a_request_twice_in_one_batch_is_sent_once_and_answered_twice(notifier) -> None:
    notifier.connect_twilio()
    request = sms_node(notifier, to=notifier.customer, body="hi")
    notifier.send(request)
    notifier.send(request)  # both read before the consumer starts: one batch
    await notifier.run()

    assert len(notifier.twilio.sent) == 1 and len(notifier.messages()) == 1
    settled = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert len(settled) == 2 and settled[0].result == settled[1].result


async def test_a_send_another_process_began_is_not_sent_again(notifier) -> None:
    notifier.connect_twilio()
    request = sms_node(notifier, to=notifier.customer, body="hi")
    # what a notifier that died while sending left: the message, its record pending
    now = datetime.now(UTC)
    ready = addressed(plan_delivery(request, now), request, None, [notifier.tenant_number], now)
    ready.record.update(sending_process="another", provider="twilio")
    left = logged(ready)
    assert left["notification"]["status"] == "pending"
    notifier.db.messages.docs[left["_id"]] = left
    notifier.send(request)
    await notifier.run()

    assert notifier.twilio.sent == []
    (settled,) = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert settled.error["type"] == "DeliveryInterrupted" and settled.error["retryable"] is False
    (failed,) = notifier.events(topics.EXECUTIONS, DeliveryFailed)
    assert failed.error["type"] == "DeliveryInterrupted"
    (message,) = notifier.messages()
    assert message["status"] == "failed" and message["notification"]["status"] == "failed"


async def test_a_message_logged_before_records_were_kept_on_messages_is_not_sent_again(
    notifier,
) -> None:
    notifier.connect_twilio()
    request = sms_node(notifier, to=notifier.customer, body="hi")
    key = request.idempotency_key
    # as the notifier logged it before: the record in notifications, the message without it
    notifier.db.messages.docs[message_id(key)] = {"_id": message_id(key), "status": "queued"}
    notifier.db.notifications.docs[key] = {
        "_id": key,
        "notification_id": "ntf_1",
        "status": "sent",
        "result": {"sid": sent_sid(7), "status": "queued"},
        "provider_message_id": sent_sid(7),
        "channel": "sms",
    }
    notifier.send(request)
    await notifier.run()

    assert notifier.twilio.sent == []
    (settled,) = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert settled.error is None and settled.result["sid"] == sent_sid(7)


async def test_twilios_refusals_are_typed_errors_on_the_settlement_message_and_conversation(
    notifier,
) -> None:
    notifier.connect_twilio()
    refusals = {
        "+15005550001": (400, 21211, "InvalidRecipient", False),
        "+15005550004": (400, 21610, "RecipientUnsubscribed", False),
        "+15005550005": (401, 20003, "AuthenticationFailed", False),
        "+15005550006": (400, 21606, "NotPermitted", False),
        "+15005550007": (429, 20429, "RateLimited", True),
        "+15005550008": (503, None, "ProviderUnavailable", True),
    }
    for number, (status, code, _, _) in refusals.items():
        notifier.twilio.refuse[number] = SendFailed(refused(status, code, f"no: {number}"))
    notifier.twilio.refuse["+15005550009"] = SendFailed(unreachable("timed out"))
    for n, number in enumerate([*refusals, "+15005550009"], 1):
        notifier.conversation(f"conv-{n}")
        notifier.send(sms_node(notifier, n, to=number, body="hi"))
    await notifier.run()

    settled = {s.execution_id: s for s in notifier.events(topics.EXECUTION_COMMANDS)}
    for n, (number, (status, code, kind, retryable)) in enumerate(refusals.items(), 1):
        error = settled[f"exe_{n}"].error
        assert error["type"] == kind and error["retryable"] is retryable, number
        assert error.get("provider_code") == code and error["http_status"] == status
        assert "code" not in error  # the engine would take it for the type
    assert settled["exe_7"].error["type"] == "ProviderUnavailable"
    messages = {m["to"]: m for m in notifier.messages()}
    invalid = messages["+15005550001"]
    assert invalid["status"] == "failed" and invalid["provider_message_id"] is None
    assert invalid["error"] == {
        "type": "InvalidRecipient",
        "code": 21211,
        "message": "no: +15005550001",
        "retryable": False,
    }
    failed = notifier.events(topics.EXECUTIONS, DeliveryFailed)
    assert len(failed) == 7 and {f.status for f in failed} == {"failed"}
    for record in notifier.broker.records(topics.EXECUTIONS):  # keyed by its execution
        assert record.key == record.envelope().data.execution_id.encode()
    conversation = notifier.db.conversations.docs["ten_1:conv-2"]
    assert conversation["last_delivery_failure"]["error"]["type"] == "RecipientUnsubscribed"
    assert "last_outbound_at" not in conversation  # nothing went out


async def test_without_a_twilio_account_or_an_address_nothing_is_sent(notifier) -> None:
    async with running(notifier.kit):
        notifier.send(sms_reply(notifier, 1))  # no account connected
        await notifier.broker.idle()
        notifier.connect_twilio()
        notifier.send(sms_reply(notifier, 2))  # no conversation: no customer address
        await notifier.broker.idle()

    assert notifier.twilio.sent == []
    errors = {f.execution_id: f.error["type"] for f in notifier.events(topics.EXECUTIONS)}
    assert errors == {"exe_1": "ChannelNotConnected", "exe_2": "AddressUnknown"}


async def test_sms_and_chat_in_one_batch_are_each_answered(notifier) -> None:
    notifier.connect_twilio()
    notifier.conversation("conv-1")
    notifier.conversation("conv-2")
    notifier.send(sms_reply(notifier, 1))
    notifier.send(notifier.request(2))
    await notifier.run()
    assert len(notifier.twilio.sent) == 1
    replies = notifier.events(topics.REPLIES, ReplySent)
    assert sorted((r.execution_id, r.channel) for r in replies) == [
        ("exe_1", "sms"),
        ("exe_2", "chat"),
    ]
    assert {m["channel"] for m in notifier.messages()} == {"sms", "chat"}
