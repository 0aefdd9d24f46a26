"""Twilio's Messaging webhooks: a signed incoming SMS or WhatsApp message is one Incoming
Message trigger in its conversation; anything unsigned, forged or for another account is 403
and publishes nothing; status callbacks become DeliveryStatusReported."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from contracts import Envelope, topics
from contracts.events import DeliveryStatusReported, TriggerReceived
from servicekit.publisher import Unavailable
from trigger_gateway.domain.channels import number_id_for
from trigger_gateway.domain.conversation_keys import conversation_id_for
from twilio.request_validator import RequestValidator

SID_A, TOKEN_A = "AC" + "a" * 32, "0123456789abcdef" * 2
SID_B, TOKEN_B = "AC" + "b" * 32, "fedcba9876543210" * 2
NUMBER_A, NUMBER_B, CUSTOMER = "+15550001111", "+15550002222", "+15557654321"
MESSAGES = "http://gw.test/webhooks/twilio/messages"
STATUS = "http://gw.test/webhooks/twilio/status"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


@pytest.fixture
def connected(gw) -> Any:
    """Tenant a has account A with NUMBER_A (SMS and WhatsApp); tenant b account B."""
    for key, sid, token, number in (
        ("key-a", SID_A, TOKEN_A, NUMBER_A),
        ("key-b", SID_B, TOKEN_B, NUMBER_B),
    ):
        body = {
            "account_sid": sid,
            "auth_token": token,
            "numbers": [{"phone_number": number, "whatsapp": True}],
        }
        answer = gw.client.put("/v1/channels/twilio", json=body, headers=gw.as_tenant(key))
        assert answer.status_code == 200, answer.text
    return gw


def sms(**extra: str) -> dict[str, str]:
    return {
        "MessageSid": "SM" + "1" * 32,
        "SmsSid": "SM" + "1" * 32,
        "AccountSid": SID_A,
        "From": CUSTOMER,
        "To": NUMBER_A,
        "Body": "where is my order?",
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "US",
        **extra,
    }


def post(gw, url: str, params: dict[str, str], *, token: str | None = TOKEN_A, **headers: str):
    signed = {} if token is None else {"X-Twilio-Signature": sign(token, url, params)}
    return gw.client.post(
        url.removeprefix("http://gw.test"),
        content=urlencode(params),
        headers={"Content-Type": "application/x-www-form-urlencoded", **signed, **headers},
    )


def sign(token: str, url: str, params: dict[str, str]) -> str:
    signature: str = RequestValidator(token).compute_signature(url, params)
    return signature


def triggers(gw) -> list[tuple[TriggerReceived, bytes]]:
    found = []
    for sent in gw.broker.published:
        if sent["topic"] == topics.TRIGGERS:
            event = Envelope.parse(sent["headers"], sent["value"]).data
            assert isinstance(event, TriggerReceived)
            found.append((event, sent["key"]))
    return found


def test_a_signed_sms_is_one_incoming_message_in_its_conversation(connected) -> None:
    answer = post(connected, MESSAGES, sms())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    assert answer.text == EMPTY_TWIML
    [(event, key)] = triggers(connected)
    conversation = conversation_id_for("ten_a", "sms", CUSTOMER, NUMBER_A)
    assert conversation.startswith("cnv_") and len(conversation) == 4 + 24
    assert key == conversation.encode()
    assert (event.tenant_id, event.trigger_type, event.channel) == (
        "ten_a",
        "Incoming Message",
        "sms",
    )
    assert event.conversation_id == conversation
    assert event.payload == {
        "text": "where is my order?",
        "from": CUSTOMER,
        "to": NUMBER_A,
        "channel": "sms",
        "conversationId": conversation,
        "messageSid": "SM" + "1" * 32,
        "accountSid": SID_A,
        "phoneNumberId": number_id_for("ten_a", NUMBER_A),
        "numMedia": 0,
        "media": [],
        "provider": "twilio",
    }
    assert event.customer == {"phone": CUSTOMER}
    assert event.message is not None
    assert event.message.model_dump() == {
        "contact_address": CUSTOMER,
        "tenant_address": NUMBER_A,
        "body": "where is my order?",
        "media": [],
        "provider": "twilio",
        "provider_message_id": "SM" + "1" * 32,
        "subject": None,
    }


def test_every_message_of_a_thread_has_one_conversation_and_another_thread_another(
    connected,
) -> None:
    post(connected, MESSAGES, sms(MessageSid="SM" + "2" * 32))
    post(connected, MESSAGES, sms(MessageSid="SM" + "3" * 32, Body="hello?"))
    post(connected, MESSAGES, sms(MessageSid="SM" + "4" * 32, From="+15559990000"))
    first, second, other = (event.conversation_id for event, _ in triggers(connected))
    assert first == second != other


def test_a_whatsapp_message_has_its_channel_profile_and_media(connected) -> None:
    params = sms(
        From="whatsapp:" + CUSTOMER,
        To="whatsapp:" + NUMBER_A,
        ProfileName="Ada",
        WaId=CUSTOMER.removeprefix("+"),
        Body="",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/x/Messages/y/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/x/Messages/y/Media/ME2",
        MediaContentType1="application/pdf",
    )
    answer = post(connected, MESSAGES, params)
    assert answer.status_code == 200, answer.text
    [(event, key)] = triggers(connected)
    conversation = conversation_id_for("ten_a", "whatsapp", CUSTOMER, NUMBER_A)
    assert event.channel == "whatsapp" and event.conversation_id == conversation
    assert conversation != conversation_id_for("ten_a", "sms", CUSTOMER, NUMBER_A)
    assert key == conversation.encode()
    assert event.payload["from"] == CUSTOMER and event.payload["to"] == NUMBER_A
    assert event.payload["profileName"] == "Ada" and event.payload["waId"] == "15557654321"
    assert event.payload["numMedia"] == 2
    assert event.payload["media"] == [
        {"url": params["MediaUrl0"], "contentType": "image/jpeg"},
        {"url": params["MediaUrl1"], "contentType": "application/pdf"},
    ]
    assert event.message is not None
    assert [m.content_type for m in event.message.media] == ["image/jpeg", "application/pdf"]


def test_a_repeated_message_sid_is_published_once_and_answered_twice(connected) -> None:
    first, again = post(connected, MESSAGES, sms()), post(connected, MESSAGES, sms())
    assert first.status_code == again.status_code == 200
    assert first.text == again.text == EMPTY_TWIML
    assert len(triggers(connected)) == 1


def test_a_message_whose_publish_failed_is_published_when_twilio_retries(connected) -> None:
    connected.broker.failure = Unavailable("Kafka did not acknowledge")
    failed = post(connected, MESSAGES, sms())
    assert failed.status_code == 503 and int(failed.headers["retry-after"]) > 0
    assert failed.headers["content-type"] == "application/problem+json"
    connected.broker.failure = None
    assert post(connected, MESSAGES, sms()).status_code == 200
    assert len(triggers(connected)) == 1


@pytest.mark.parametrize(
    "forgery",
    [
        {"token": None},  # unsigned
        {"token": TOKEN_B},  # another account's token
        {"token": "0" * 32},  # a guess
        {"token": TOKEN_A, "url": "http://elsewhere.test/webhooks/twilio/messages"},
        {"token": TOKEN_A, "tamper": {"Body": "send me the refund"}},
        {"token": TOKEN_A, "tamper": {"Extra": "1"}},
    ],
)
def test_an_unsigned_or_forged_message_is_403_and_publishes_nothing(
    connected, expect_problem, forgery
) -> None:
    params = sms()
    token = forgery["token"]
    headers = {}
    if token is not None:
        headers["X-Twilio-Signature"] = sign(token, forgery.get("url", MESSAGES), params)
    sent = {**params, **forgery.get("tamper", {})}
    answer = connected.client.post(
        "/webhooks/twilio/messages",
        content=urlencode(sent),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )
    expect_problem(answer, 403)
    assert connected.broker.published == [] and connected.receipts.receipts == {}


def test_a_message_signed_by_an_account_for_its_own_sid_but_claiming_another_is_403(
    connected, expect_problem
) -> None:
    # signed with A's token, to A's number, but naming B's account
    answer = post(connected, MESSAGES, sms(AccountSid=SID_B))
    assert "AccountSid" in expect_problem(answer, 403)["detail"]
    assert connected.broker.published == []


def test_a_shared_key_signature_is_403(connected, expect_problem) -> None:
    answer = post(
        connected,
        MESSAGES,
        sms(),
        **{"X-Twilio-Webhooks-Signature-Settings": "key=k,algorithm=HMAC_SHA256"},
    )
    expect_problem(answer, 403)
    assert connected.broker.published == []


def test_the_query_string_is_part_of_what_is_signed(connected) -> None:
    params = sms()
    answer = connected.client.post(
        "/webhooks/twilio/messages?source=a%20b",
        content=urlencode(params),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(TOKEN_A, MESSAGES + "?source=a%20b", params),
        },
    )
    assert answer.status_code == 200, answer.text


def test_a_message_to_a_number_nobody_connected_is_404(connected, expect_problem) -> None:
    answer = post(connected, MESSAGES, sms(To="+15550009999"))
    assert "+15550009999" in expect_problem(answer, 404)["detail"]
    assert connected.broker.published == []


@pytest.mark.parametrize("drop", ["MessageSid", "From", "AccountSid"])
def test_a_signed_message_without_what_it_needs_is_422(connected, expect_problem, drop) -> None:
    params = {k: v for k, v in sms().items() if k != drop}
    problem = expect_problem(post(connected, MESSAGES, params), 422)
    assert [e["name"] for e in problem["errors"]] == [f"body.{drop}"]
    assert connected.broker.published == []


def test_a_message_without_to_is_422_and_without_a_form_415(connected, expect_problem) -> None:
    params = {k: v for k, v in sms().items() if k != "To"}
    expect_problem(post(connected, MESSAGES, params), 422)
    answer = connected.client.post(
        "/webhooks/twilio/messages",
        json=sms(),
        headers={"X-Twilio-Signature": sign(TOKEN_A, MESSAGES, sms())},
    )
    expect_problem(answer, 415)


@pytest.mark.parametrize(
    "body", [b"Body=%FF%FE&To=x", b"Body=a%00b", "Body=\ud800".encode("utf-8", "surrogatepass")]
)
def test_a_form_with_a_nul_or_invalid_unicode_is_422(connected, expect_problem, body) -> None:
    answer = connected.client.post(
        "/webhooks/twilio/messages",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
    )
    assert expect_problem(answer, 422)["errors"][0]["name"].startswith("body")


def test_an_oversized_message_is_413_before_anything_is_read(connected, expect_problem) -> None:
    params = sms(Body="x" * (1 << 20))
    expect_problem(post(connected, MESSAGES, params), 413)
    assert connected.broker.published == []


def test_a_status_callback_is_a_delivery_status_report(connected) -> None:
    params = {
        "MessageSid": "SM" + "9" * 32,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "AccountSid": SID_B,
        "From": NUMBER_B,
        "To": CUSTOMER,
        "ApiVersion": "2010-04-01",
    }
    answer = post(connected, STATUS, params, token=TOKEN_B)
    assert answer.status_code == 204, answer.text
    [sent] = connected.broker.published
    assert sent["topic"] == topics.DELIVERY_STATUS and sent["key"] == b"SM" + b"9" * 32
    assert sent["headers"]["tenant_id"] == "ten_b"
    event = Envelope.parse(sent["headers"], sent["value"]).data
    assert isinstance(event, DeliveryStatusReported)
    assert (event.tenant_id, event.provider, event.provider_message_id) == (
        "ten_b",
        "twilio",
        "SM" + "9" * 32,
    )
    assert (event.status, event.error_code, event.error_message) == ("undelivered", "30003", None)
    assert event.event_id == "twilio:SM" + "9" * 32 + ":undelivered"
    assert event.message_id is None  # a StatusCallback that names no message of ours
    assert TOKEN_B not in json.dumps(sent["headers"]) + sent["value"].decode()


MESSAGE_ID = "msg_" + "0123456789abcdef01234567"


def test_a_status_callback_whose_url_names_the_message_reports_it_by_that_id(connected) -> None:
    params = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "sent", "AccountSid": SID_B}
    url = f"{STATUS}?message_id={MESSAGE_ID}"  # the StatusCallback the notifier gave Twilio
    assert post(connected, url, params, token=TOKEN_B).status_code == 204
    [sent] = connected.broker.published
    event = Envelope.parse(sent["headers"], sent["value"]).data
    assert isinstance(event, DeliveryStatusReported)
    assert (event.tenant_id, event.message_id) == ("ten_b", MESSAGE_ID)
    assert event.provider_message_id == "SM" + "9" * 32 and sent["key"] == b"SM" + b"9" * 32


def test_a_message_id_not_in_the_signed_url_is_403(connected, expect_problem) -> None:
    params = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "failed", "AccountSid": SID_B}
    signed = {"X-Twilio-Signature": sign(TOKEN_B, f"{STATUS}?message_id={MESSAGE_ID}", params)}
    other = "msg_" + "f" * 24  # another message than the one Twilio was given
    for query in (f"?message_id={other}", ""):
        answer = connected.client.post(
            "/webhooks/twilio/status" + query,
            content=urlencode(params),
            headers={"Content-Type": "application/x-www-form-urlencoded", **signed},
        )
        expect_problem(answer, 403)
    assert connected.broker.published == []


def test_a_malformed_message_id_is_422(connected, expect_problem) -> None:
    params = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "sent", "AccountSid": SID_B}
    for bad in ("SM" + "9" * 32, "msg_" + "0" * 23, "msg_" + "G" * 24):
        answer = post(connected, f"{STATUS}?message_id={bad}", params, token=TOKEN_B)
        expect_problem(answer, 422)
    assert connected.broker.published == []


def test_a_status_callback_signed_with_another_accounts_token_is_403(
    connected, expect_problem
) -> None:
    params = {"MessageSid": "SM" + "9" * 32, "MessageStatus": "delivered", "AccountSid": SID_B}
    expect_problem(post(connected, STATUS, params, token=TOKEN_A), 403)
    expect_problem(post(connected, STATUS, params, token=None), 403)
    assert connected.broker.published == []


def test_a_status_callback_for_an_unknown_account_is_404(connected, expect_problem) -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "sent", "AccountSid": "AC" + "c" * 32}
    expect_problem(post(connected, STATUS, params, token=TOKEN_A), 404)


def test_a_disconnected_account_receives_nothing(connected, expect_problem) -> None:
    assert (
        connected.client.delete("/v1/channels/twilio", headers=connected.as_tenant()).status_code
        == 204
    )
    expect_problem(post(connected, MESSAGES, sms()), 404)
    assert connected.broker.published == []


def test_a_lookup_kept_from_before_a_token_change_is_checked_again_as_stored(connected) -> None:
    # what a webhook kept before tenant a changed its auth token (in another gateway process)
    number = connected.twilio.numbers[NUMBER_A]
    for token in ("9" * 32, TOKEN_A):
        body = {"account_sid": SID_A, "auth_token": token, "numbers": [{"phone_number": NUMBER_A}]}
        changed = connected.client.put(
            "/v1/channels/twilio", json=body, headers=connected.as_tenant("key-a")
        )
        assert changed.status_code == 200, changed.text
        connected.twilio.stale = connected.twilio.stale or (
            number,
            connected.twilio.accounts["ten_a"],
        )

    answer = post(connected, MESSAGES, sms())  # signed with the tenant's token as stored
    assert answer.status_code == 200, answer.text
    assert len(triggers(connected)) == 1
    status = {
        "MessageSid": "SM" + "9" * 32,
        "MessageStatus": "delivered",
        "AccountSid": SID_A,
        "ApiVersion": "2010-04-01",
    }
    assert post(connected, STATUS, status).status_code == 204


def test_a_forged_message_is_403_with_a_kept_lookup_too(connected, expect_problem) -> None:
    number = connected.twilio.numbers[NUMBER_A]
    connected.twilio.stale = (number, connected.twilio.accounts["ten_a"])
    answer = post(connected, MESSAGES, sms(), token=TOKEN_B)
    expect_problem(answer, 403)
    assert triggers(connected) == []
