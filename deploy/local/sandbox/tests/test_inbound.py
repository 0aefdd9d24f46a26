"""Playing the customer: the incoming-message webhook Twilio POSTs to a number's SmsUrl, signed,
with Twilio's parameters; TwiML `<Message>` answers sent back; replays for dedupe tests."""

import re

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.request_validator import RequestValidator

TENANT = "+14155550100"
CUSTOMER = "+14155550199"
SMS_PATH = "/webhooks/twilio/messages"
STATUS_PATH = "/webhooks/twilio/status"


@pytest.fixture
def owned(twilio, receiver):
    return twilio.incoming_phone_numbers.create(
        phone_number=TENANT, sms_url=f"{receiver.url}{SMS_PATH}"
    )


def test_an_sms_arrives_signed_with_twilios_parameters(sandbox, account, owned, receiver):
    answer = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "Where is it?"}
    )

    assert answer.status_code == 200
    result = answer.json()
    assert re.fullmatch("SM[0-9a-f]{32}", result["message_sid"])
    assert (result["status"], result["content_type"]) == (200, "text/xml; charset=utf-8")
    assert result["body"] == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    webhook = receiver.at(SMS_PATH)[0]
    assert RequestValidator(account.token).validate(
        webhook.url, webhook.form, webhook.headers["x-twilio-signature"]
    )
    sid = result["message_sid"]
    assert webhook.form == {
        "AccountSid": account.sid,
        "ApiVersion": "2010-04-01",
        "Body": "Where is it?",
        "From": CUSTOMER,
        "FromCity": "",
        "FromCountry": "US",
        "FromState": "",
        "FromZip": "",
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": TENANT,
        "ToCity": "",
        "ToCountry": "US",
        "ToState": "",
        "ToZip": "",
    }


def test_the_answer_reports_the_apps_status_content_type_and_body(sandbox, owned, receiver):
    receiver.answer(SMS_PATH, 202, "<Response/>", "application/xml")

    result = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"}
    ).json()

    assert (result["status"], result["content_type"], result["body"]) == (
        202,
        "application/xml",
        "<Response/>",
    )
    assert result["replies"] == []


def test_whatsapp_is_prefixed_and_carries_profile_and_wa_id(sandbox, owned, receiver, account):
    sandbox.post(
        "/sandbox/twilio/inbound",
        json={
            "from": CUSTOMER,
            "to": TENANT,
            "body": "hola",
            "channel": "whatsapp",
            "profile_name": "Ada",
        },
    )

    form = receiver.wait_for(SMS_PATH, 1)[0].form
    assert (form["From"], form["To"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{TENANT}")
    assert (form["ProfileName"], form["WaId"], form["MessageType"]) == (
        "Ada",
        "14155550199",
        "text",
    )
    assert "FromCountry" not in form


def test_media_are_numbered_with_their_content_types(sandbox, owned, receiver):
    result = sandbox.post(
        "/sandbox/twilio/inbound",
        json={
            "from": CUSTOMER,
            "to": TENANT,
            "media_urls": ["https://example.com/receipt.jpg", "https://example.com/note.pdf"],
        },
    ).json()

    form = receiver.wait_for(SMS_PATH, 1)[0].form
    assert result["message_sid"].startswith("MM")
    assert form["NumMedia"] == "2"
    assert (form["MediaUrl0"], form["MediaContentType0"]) == (
        "https://example.com/receipt.jpg",
        "image/jpeg",
    )
    assert form["MediaContentType1"] == "application/pdf"


def test_message_verbs_are_sent_back_as_replies(sandbox, owned, receiver, twilio, wait_until):
    receiver.answer(
        SMS_PATH,
        body=(
            "<Response><Message>Thanks, we are on it</Message>"
            f'<Message statusCallback="{STATUS_PATH}"><Body>Order #1042</Body>'
            "<Media>https://example.com/map.png</Media></Message></Response>"
        ),
    )

    result = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "status?"}
    ).json()

    assert [r["body"] for r in result["replies"]] == ["Thanks, we are on it", "Order #1042"]
    assert {(r["to"], r["from"]) for r in result["replies"]} == {(CUSTOMER, TENANT)}
    replies = sandbox.get("/sandbox/twilio/messages", params={"direction": "outbound-reply"})
    assert [m["media_urls"] for m in replies.json()["messages"]] == [
        [],
        ["https://example.com/map.png"],
    ]
    # the relative statusCallback is resolved against the SmsUrl
    callbacks = receiver.wait_for(STATUS_PATH, 2)
    assert {c.form["MessageSid"] for c in callbacks} == {result["replies"][1]["sid"]}
    wait_until(lambda: twilio.messages(result["replies"][0]["sid"]).fetch().status == "delivered")


def test_a_plain_text_answer_is_the_reply(sandbox, owned, receiver):
    receiver.answer(SMS_PATH, body="We open at 9 & close at 5", content_type="text/plain")

    result = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hours?"}
    ).json()

    assert [r["body"] for r in result["replies"]] == ["We open at 9 & close at 5"]


def test_an_answer_that_is_not_twiml_sends_nothing(sandbox, owned, receiver):
    receiver.answer(SMS_PATH, body="<html>oops</html>", content_type="text/html")

    result = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"}
    ).json()

    assert result["replies"] == [{"error": "12200 Schema validation warning: root element <html>"}]


def test_a_replay_resends_the_same_sid_and_parameters(sandbox, owned, receiver, account):
    first = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"}
    ).json()

    again = sandbox.post("/sandbox/twilio/inbound", json={"replay": True}).json()
    explicit = sandbox.post(
        "/sandbox/twilio/inbound", json={"message_sid": first["message_sid"]}
    ).json()

    webhooks = receiver.wait_for(SMS_PATH, 3)
    assert again["message_sid"] == explicit["message_sid"] == first["message_sid"]
    assert webhooks[0].form == webhooks[1].form == webhooks[2].form
    validator = RequestValidator(account.token)
    assert all(validator.validate(w.url, w.form, w.headers["x-twilio-signature"]) for w in webhooks)
    listed = sandbox.get("/sandbox/twilio/messages", params={"direction": "inbound"}).json()
    assert len(listed["messages"]) == 1
    assert len(listed["messages"][0]["webhooks"]) == 3


def test_a_chosen_new_message_sid_is_used(sandbox, owned, receiver):
    sid = "SM" + "d0" * 16

    sandbox.post(
        "/sandbox/twilio/inbound",
        json={"from": CUSTOMER, "to": TENANT, "body": "hi", "message_sid": sid},
    )

    assert receiver.wait_for(SMS_PATH, 1)[0].form["MessageSid"] == sid


@pytest.mark.parametrize("signature", ["none", "wrong"])
def test_unsigned_or_wrongly_signed_for_negative_tests(
    sandbox, owned, receiver, account, signature
):
    result = sandbox.post(
        "/sandbox/twilio/inbound",
        json={"from": CUSTOMER, "to": TENANT, "body": "hi", "signature": signature},
    ).json()

    webhook = receiver.wait_for(SMS_PATH, 1)[0]
    if signature == "none":
        assert "x-twilio-signature" not in webhook.headers
        assert result["webhook"]["signature"] is None
    else:
        assert not RequestValidator(account.token).validate(
            webhook.url, webhook.form, webhook.headers["x-twilio-signature"]
        )


def test_a_failing_sms_url_falls_back(sandbox, twilio, receiver, account):
    twilio.incoming_phone_numbers.create(
        phone_number=TENANT,
        sms_url=f"{receiver.url}/broken",
        sms_fallback_url=f"{receiver.url}/fallback",
    )
    receiver.answer("/broken", 500)

    result = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"}
    ).json()

    assert (result["webhook"]["response"]["status"], result["status"]) == (500, 200)
    fallback = receiver.wait_for("/fallback", 1)[0]
    assert RequestValidator(account.token).validate(
        fallback.url, fallback.form, fallback.headers["x-twilio-signature"]
    )


def test_a_get_sms_url_gets_the_parameters_in_the_query(sandbox, twilio, receiver, account):
    twilio.incoming_phone_numbers.create(
        phone_number=TENANT, sms_url=f"{receiver.url}/get-me", sms_method="GET"
    )

    sandbox.post("/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"})

    webhook = receiver.wait_for("/get-me", 1)[0]
    assert webhook.method == "GET"
    assert "Body=hi" in webhook.url
    assert RequestValidator(account.token).validate(
        webhook.url, {}, webhook.headers["x-twilio-signature"]
    )


def test_a_messaging_service_number_goes_to_the_services_url(sandbox, twilio, receiver, owned):
    service = twilio.messaging.v1.services.create(
        friendly_name="Acme", inbound_request_url=f"{receiver.url}/service-inbound"
    )
    twilio.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=owned.sid)

    sandbox.post("/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"})

    assert receiver.wait_for("/service-inbound", 1)[0].form["MessagingServiceSid"] == service.sid
    assert receiver.at(SMS_PATH) == []


def test_stop_unsubscribes_and_start_resubscribes(sandbox, twilio, owned):
    def say(body):
        sandbox.post("/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": body})

    say("STOP")
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(to=CUSTOMER, from_=TENANT, body="promo")
    assert refused.value.code == 21610
    say("start")
    assert twilio.messages.create(to=CUSTOMER, from_=TENANT, body="welcome back").status == "queued"


def test_an_unknown_number_is_404(sandbox, owned):
    answer = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": "+14155550111", "body": "hi"}
    )

    assert answer.status_code == 404


def test_a_number_without_sms_url_records_and_sends_nothing(sandbox, twilio):
    twilio.incoming_phone_numbers.create(phone_number=TENANT)

    result = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"}
    ).json()

    assert result["status"] is None
    assert "no SmsUrl" in result["error"]
    assert len(twilio.messages.list()) == 1


def test_an_incoming_message_is_in_the_accounts_message_list(sandbox, twilio, owned):
    sid = sandbox.post(
        "/sandbox/twilio/inbound", json={"from": CUSTOMER, "to": TENANT, "body": "hi"}
    ).json()["message_sid"]

    fetched = twilio.messages(sid).fetch()

    assert (fetched.direction, fetched.status, fetched.from_) == ("inbound", "received", CUSTOMER)
