"""Email through the tenant's SendGrid channel (a stand-in of the SDK sender): Send Email, the
SendGrid node and Send Reply on an email conversation become one Mail Send each, naming our
message (Message-ID, custom_args) and answered to the tenant's inbound address; sent once per
idempotency key; SendGrid's refusals as typed errors; its events recorded on the message,
bounces and drops as failures (message, conversation, DeliveryFailed)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from contracts import Envelope, topics
from contracts.events import DeliveryFailed, DeliveryStatusReported, EffectSettled, ReplySent
from notifier.adapters.twilio_client import SendFailed
from notifier.domain.delivery import message_id
from notifier.domain.email_errors import sendgrid_refused
from servicekit.testing import running

KEY = "exe_1:reply:1:1"


def send_email(notifier, n: int = 1, **request: object):
    body = {
        "to": ["ann@example.com"],
        "cc": ["boss@example.com"],
        "subject": "Your order",
        "body": "<p>It shipped.</p>",
        **request,
    }
    return notifier.request(n, kind="action.send_email", request=body)


def email_report(notifier, provider_id: str, status: str, event_id: str, **extra: object) -> None:
    event = DeliveryStatusReported(
        tenant_id=notifier.tenant,
        provider="sendgrid",
        provider_message_id=provider_id,
        message_id=message_id(KEY),
        status=status,
        reported_at=datetime.now(UTC),
        event_id=f"sendgrid:{event_id}",
        **extra,  # type: ignore[arg-type]
    )
    envelope = Envelope.wrap(event, source="/test", tenant_id=notifier.tenant)
    notifier.broker.send(topics.DELIVERY_STATUS, envelope, key=provider_id.encode())


async def then(notifier, *later) -> None:
    """What was sent so far handled, then each of ``later`` (a callable that sends more) and
    what it sent, in one run of the notifier."""
    async with running(notifier.kit):
        await notifier.broker.idle()
        for step in later:
            step()
            await notifier.broker.idle()


async def test_send_email_goes_out_through_sendgrid_naming_its_message(notifier) -> None:
    notifier.connect_sendgrid()
    notifier.send(send_email(notifier))
    await notifier.run()

    (body,) = notifier.sendgrid.sent
    ours = message_id(KEY)
    assert body["personalizations"] == [
        {"to": [{"email": "ann@example.com"}], "cc": [{"email": "boss@example.com"}]}
    ]
    assert body["from"] == {"email": "support@acme.test", "name": "Acme"}
    assert body["reply_to"] == {"email": "help@reply.acme.test"}
    assert body["subject"] == "Your order"
    assert body["content"] == [
        {"type": "text/plain", "value": "It shipped."},
        {"type": "text/html", "value": "<p>It shipped.</p>"},
    ]
    assert body["headers"] == {"Message-ID": f"<{ours}@acme.test>"}
    assert body["custom_args"] == {
        "cf_message_id": ours,
        "cf_idempotency_key": KEY,
        "cf_tenant_id": notifier.tenant,
    }
    (message,) = notifier.messages()
    assert message["_id"] == ours
    assert (message["channel"], message["provider"]) == ("email", "sendgrid")
    assert message["provider_message_id"] == "xmsg1"
    assert message["status"] == "accepted"
    assert [h["status"] for h in message["status_history"]] == ["pending", "accepted"]
    assert message["subject"] == "Your order" and message["to"] == "ann@example.com"
    assert message["notification"]["status"] == "sent"
    (reply,) = notifier.events(topics.REPLIES, ReplySent)
    assert (reply.channel, reply.provider_message_id) == ("email", "xmsg1")
    assert "secret" not in repr(notifier.db.messages.docs) + repr(
        notifier.broker.events(topics.REPLIES)
    )


async def test_a_redelivered_request_sends_nothing_again(notifier) -> None:
    notifier.connect_sendgrid()
    notifier.send(send_email(notifier))
    notifier.send(send_email(notifier))
    await then(notifier, lambda: notifier.send(send_email(notifier)))

    assert len(notifier.sendgrid.sent) == 1
    assert len(notifier.events(topics.REPLIES, ReplySent)) == 3  # answered as the first time


async def test_one_left_pending_by_another_process_is_interrupted_not_sent(notifier) -> None:
    notifier.connect_sendgrid()
    notifier.send(send_email(notifier))

    def redelivered() -> None:
        doc = notifier.db.messages.docs[message_id(KEY)]
        doc["notification"].update(status="pending", sending_process="gone")
        notifier.send(send_email(notifier).model_copy(update={"awaits_result": True}))

    await then(notifier, redelivered)

    assert len(notifier.sendgrid.sent) == 1
    (settled,) = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert settled.error is not None and settled.error["type"] == "DeliveryInterrupted"


async def test_without_a_channel_it_is_channel_not_connected_and_announced(notifier) -> None:
    notifier.send(send_email(notifier))
    await notifier.run()

    assert notifier.sendgrid.sent == []
    (message,) = notifier.messages()
    assert message["status"] == "failed" and message["error"]["type"] == "ChannelNotConnected"
    (failed,) = notifier.events(topics.EXECUTIONS, DeliveryFailed)
    assert failed.channel == "email" and failed.message_id == message["_id"]


async def test_sendgrids_refusals_are_typed(notifier) -> None:
    notifier.connect_sendgrid()
    notifier.sendgrid.refuse["bad@example.com"] = SendFailed(
        sendgrid_refused(401, ["The provided authorization grant is invalid"])
    )
    notifier.sendgrid.refuse["busy@example.com"] = SendFailed(
        sendgrid_refused(429, ["too many requests"], 3.0)
    )
    for n, to in ((1, "bad@example.com"), (2, "busy@example.com")):
        notifier.send(send_email(notifier, n, to=[to]).model_copy(update={"awaits_result": True}))
    await notifier.run()

    errors = {s.execution_id: s.error for s in notifier.events(topics.EXECUTION_COMMANDS)}
    assert errors["exe_1"] == {
        "type": "AuthenticationFailed",
        "message": "The provided authorization grant is invalid",
        "retryable": False,
        "http_status": 401,
    }
    assert errors["exe_2"]["type"] == "RateLimited" and errors["exe_2"]["retryable"] is True
    assert errors["exe_2"]["retry_after_seconds"] == 3.0


async def test_an_email_that_cannot_be_sent_as_asked_is_invalid_message(notifier) -> None:
    notifier.connect_sendgrid()
    notifier.send(send_email(notifier, subject="", body=""))
    await notifier.run()
    assert notifier.sendgrid.sent == []
    assert notifier.messages()[0]["error"]["type"] == "InvalidMessage"


async def test_the_sendgrid_node_sends_a_template(notifier) -> None:
    notifier.connect_sendgrid()
    params = {"to": "ann@example.com", "templateId": "d-42", "templateData": {"name": "Ann"}}
    notifier.send(
        notifier.request(
            kind="integration.sendgrid",
            request={"integration": "sendgrid", "action": "sendTemplate", "params": params},
            awaits_result=True,
        )
    )
    await notifier.run()

    (body,) = notifier.sendgrid.sent
    assert body["template_id"] == "d-42" and "content" not in body and "subject" not in body
    assert body["personalizations"][0]["dynamic_template_data"] == {"name": "Ann"}
    (settled,) = notifier.events(topics.EXECUTION_COMMANDS, EffectSettled)
    assert settled.result is not None and settled.result["status"] == "accepted"


async def test_a_reply_on_email_continues_the_customers_thread(notifier) -> None:
    notifier.connect_sendgrid()
    notifier.db.messages.docs["in_1"] = {
        "_id": "in_1",
        "tenant_id": notifier.tenant,
        "conversation_id": "conv-1",
        "direction": "inbound",
        "channel": "email",
        "from": "ann@example.com",
        "to": "help@reply.acme.test",
        "subject": "Where is my order?",
        "provider_message_id": "<abc@mail.example.com>",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    notifier.send(
        notifier.request(channel="email", request={"channel": "email", "message": "On its way"})
    )
    await notifier.run()

    (body,) = notifier.sendgrid.sent
    assert body["personalizations"][0]["to"] == [{"email": "ann@example.com"}]
    assert body["subject"] == "Re: Where is my order?"
    assert body["headers"]["In-Reply-To"] == "<abc@mail.example.com>"
    assert body["headers"]["References"] == "<abc@mail.example.com>"
    assert body["content"] == [{"type": "text/plain", "value": "On its way"}]


async def test_a_bounce_is_a_failure_on_the_message_the_conversation_and_announced(
    notifier,
) -> None:
    notifier.connect_sendgrid()
    notifier.conversation("conv-1")
    notifier.send(send_email(notifier))

    def reports() -> None:
        email_report(notifier, "xmsg1", "processed", "e1")
        email_report(
            notifier,
            "xmsg1",
            "bounced",
            "e2",
            error_code="5.1.1",
            error_message="550 5.1.1 no such user",
        )
        email_report(notifier, "xmsg1", "bounced", "e2")  # SendGrid retried its post

    await then(notifier, reports)

    message = notifier.db.messages.docs[message_id(KEY)]
    assert message["status"] == "bounced"
    assert [h["status"] for h in message["status_history"]] == [
        "pending",
        "accepted",
        "processed",
        "bounced",
    ]
    assert message["error"]["type"] == "InvalidRecipient"
    assert message["error"]["retryable"] is False
    conversation = notifier.db.conversations.docs[f"{notifier.tenant}:conv-1"]
    assert conversation["last_delivery_failure"]["status"] == "bounced"
    failed = notifier.events(topics.EXECUTIONS, DeliveryFailed)
    assert {f.failure_id for f in failed} == {failed[0].failure_id}
    assert failed[0].status == "bounced" and failed[0].provider == "sendgrid"


async def test_delivered_then_opened_moves_forward_and_a_late_processed_stays_history(
    notifier,
) -> None:
    notifier.connect_sendgrid()
    notifier.send(send_email(notifier))

    def reports() -> None:
        for status, event in (("delivered", "e1"), ("opened", "e2"), ("processed", "e3")):
            email_report(notifier, "xmsg1", status, event)

    await then(notifier, reports)

    message = notifier.db.messages.docs[message_id(KEY)]
    assert message["status"] == "opened"
    assert [h["status"] for h in message["status_history"]][-3:] == [
        "delivered",
        "opened",
        "processed",
    ]
    assert notifier.events(topics.EXECUTIONS, DeliveryFailed) == []


async def test_attachments_by_url_are_fetched_and_sent_as_content(notifier) -> None:
    notifier.connect_sendgrid()
    attachments = [{"filename": "invoice.pdf", "url": "http://files.test/invoice.pdf"}]
    notifier.send(send_email(notifier, attachments=attachments))
    await notifier.run()

    (body,) = notifier.sendgrid.sent
    assert body["attachments"] == [
        {
            "content": base64.b64encode(b"content of invoice.pdf").decode(),
            "filename": "invoice.pdf",
            "type": "application/pdf",
        }
    ]


async def test_an_attachment_that_cannot_be_fetched_refuses_the_email(notifier) -> None:
    notifier.connect_sendgrid()
    for n, name in ((1, "missing.pdf"), (2, "big.bin")):
        attachments = [{"url": f"http://files.test/{name}"}]
        notifier.send(send_email(notifier, n, attachments=attachments))
    await notifier.run()

    assert notifier.sendgrid.sent == []
    errors = [m["error"] for m in notifier.messages()]
    assert [e["type"] for e in errors] == ["InvalidMessage", "InvalidMessage"]
    assert "HTTP 404" in errors[0]["message"] and "over 1024 bytes" in errors[1]["message"]
