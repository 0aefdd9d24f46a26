"""What a request asks to send, and the addresses a conversation gives it."""

from __future__ import annotations

from contracts.events import NotificationRequested
from notifier.domain.outbound import Media, Outbound, outbound_of


def requested(kind: str, channel: str, request: dict) -> NotificationRequested:
    return NotificationRequested(
        idempotency_key="exe_1:n:1:1",
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id="n:1:1",
        node_id="n",
        kind=kind,
        channel=channel,
        request=request,
    )


def test_a_reply_takes_its_channel_and_text_and_any_addresses_it_names() -> None:
    reply = outbound_of(
        requested(
            "action.send_reply",
            "sms",
            {"channel": "sms", "message": "hi", "to": "+1555", "mediaUrl": "https://x/a.png"},
        )
    )
    assert reply == Outbound("sms", "hi", (Media("https://x/a.png"),), to="+1555")


def test_the_sms_node_is_sms_or_whatsapp_by_its_recipient() -> None:
    params = {"to": "whatsapp:+1555", "body": "hi", "from": "whatsapp:+1444"}
    sms = outbound_of(requested("integration.twilio_sms", "chat", {"params": params}))
    assert sms is not None and sms.channel == "whatsapp" and sms.from_ == "whatsapp:+1444"
    plain = outbound_of(requested("integration.twilio_sms", "chat", {"params": {"to": "+1555"}}))
    assert plain is not None and plain.channel == "sms"


def test_kinds_that_send_no_message() -> None:
    assert outbound_of(requested("action.add_tag", "sms", {"tag": "vip"})) is None


def test_the_conversation_gives_the_addresses_the_request_left_out() -> None:
    conversation = {"contact_address": "+1999", "tenant_address": "+1000"}
    assert Outbound("sms", "hi").addressed(conversation).to == "+1999"
    assert Outbound("sms", "hi", from_="+1222").addressed(conversation).from_ == "+1222"
    alone = Outbound("sms", "hi", to="+1999").addressed(None, ["+1333", "+1444"])
    assert alone.from_ == "+1333"
    whatsapp = Outbound("whatsapp", "hi").addressed(conversation)
    assert (whatsapp.to, whatsapp.from_) == ("whatsapp:+1999", "whatsapp:+1000")
    assert Outbound("sms", "hi").addressed(None).to is None
