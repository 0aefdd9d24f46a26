"""Delivery and status callbacks: each status change after the create is POSTed to the
StatusCallback, signed as Twilio signs, retried on 5xx; magic numbers end failed/undelivered."""

import time

import pytest
from twilio.request_validator import RequestValidator

TENANT = "+14155550100"
CUSTOMER = "+14155550199"
STATUS_PATH = "/webhooks/twilio/status"


@pytest.fixture
def owned(twilio):
    return twilio.incoming_phone_numbers.create(phone_number=TENANT)


@pytest.fixture
def status_url(receiver):
    return f"{receiver.url}{STATUS_PATH}"


def test_sent_and_delivered_arrive_signed_with_twilios_parameters(
    twilio, account, owned, receiver, status_url
):
    sent = twilio.messages.create(to=CUSTOMER, from_=TENANT, body="hi", status_callback=status_url)

    callbacks = receiver.wait_for(STATUS_PATH, 2)

    assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    validator = RequestValidator(account.token)
    for callback in callbacks:
        assert callback.method == "POST"
        assert callback.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert validator.validate(
            callback.url, callback.form, callback.headers["x-twilio-signature"]
        )
    delivered = callbacks[1].form
    assert delivered["RawDlrDoneDate"].isdigit() and len(delivered["RawDlrDoneDate"]) == 10
    assert {k: v for k, v in delivered.items() if k != "RawDlrDoneDate"} == {
        "AccountSid": account.sid,
        "ApiVersion": "2010-04-01",
        "From": TENANT,
        "MessageSid": sent.sid,
        "MessageStatus": "delivered",
        "SmsSid": sent.sid,
        "SmsStatus": "delivered",
        "To": CUSTOMER,
    }


def test_a_signature_does_not_validate_with_another_token(owned, twilio, receiver, status_url):
    twilio.messages.create(to=CUSTOMER, from_=TENANT, body="hi", status_callback=status_url)

    callback = receiver.wait_for(STATUS_PATH, 1)[0]

    assert not RequestValidator("another-token").validate(
        callback.url, callback.form, callback.headers["x-twilio-signature"]
    )


def test_a_query_string_in_the_callback_url_is_signed_too(account, owned, twilio, receiver):
    url = f"{receiver.url}{STATUS_PATH}?tenant=t1&delivery=d1"
    twilio.messages.create(to=CUSTOMER, from_=TENANT, body="hi", status_callback=url)

    callback = receiver.wait_for(STATUS_PATH, 1)[0]

    assert callback.url == url
    assert RequestValidator(account.token).validate(
        url, callback.form, callback.headers["x-twilio-signature"]
    )


@pytest.mark.parametrize(
    ("to", "statuses", "code"),
    [
        ("+15005553003", ["failed"], "30003"),
        ("+15005553008", ["failed"], "30008"),
        ("+15005553005", ["sent", "undelivered"], "30005"),
        ("+15005553006", ["sent", "undelivered"], "30006"),
        ("+15005553007", ["sent", "undelivered"], "30007"),
    ],
)
def test_magic_numbers_end_failed_or_undelivered_with_their_error(
    twilio, owned, receiver, status_url, wait_until, to, statuses, code
):
    sent = twilio.messages.create(to=to, from_=TENANT, body="hi", status_callback=status_url)

    callbacks = receiver.wait_for(STATUS_PATH, len(statuses))

    assert [c.form["MessageStatus"] for c in callbacks] == statuses
    assert callbacks[-1].form["ErrorCode"] == code
    assert "ErrorCode" not in callbacks[0].form or len(callbacks) == 1
    wait_until(lambda: twilio.messages(sent.sid).fetch().status == statuses[-1])
    fetched = twilio.messages(sent.sid).fetch()
    assert fetched.error_code == int(code)
    assert fetched.error_message


def test_a_5xx_answer_is_retried_with_the_same_signature(
    owned, twilio, receiver, status_url, sandbox, wait_until
):
    receiver.answer(STATUS_PATH, 503)
    receiver.answer(STATUS_PATH, 500)
    sent = twilio.messages.create(to=CUSTOMER, from_=TENANT, body="hi", status_callback=status_url)

    callbacks = receiver.wait_for(STATUS_PATH, 4)

    assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "sent", "sent", "delivered"]
    assert len({c.headers["x-twilio-signature"] for c in callbacks[:3]}) == 1
    assert len({c.headers["i-twilio-idempotency-token"] for c in callbacks[:3]}) == 1
    wait_until(
        lambda: len(sandbox.get(f"/sandbox/twilio/messages/{sent.sid}").json()["callbacks"]) == 4
    )
    record = sandbox.get(f"/sandbox/twilio/messages/{sent.sid}").json()
    assert [(c["attempt"], c["response"]["status"]) for c in record["callbacks"]] == [
        (1, 503),
        (2, 500),
        (3, 200),
        (1, 200),
    ]


def test_a_4xx_answer_is_not_retried(owned, twilio, receiver, status_url):
    receiver.answer(STATUS_PATH, 403)
    twilio.messages.create(to=CUSTOMER, from_=TENANT, body="hi", status_callback=status_url)

    callbacks = receiver.wait_for(STATUS_PATH, 2)

    assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "delivered"]


def test_an_unreachable_callback_is_retried_then_given_up(owned, twilio, sandbox, wait_until):
    sent = twilio.messages.create(
        to=CUSTOMER, from_=TENANT, body="hi", status_callback="http://127.0.0.1:9/status"
    )

    wait_until(lambda: twilio.messages(sent.sid).fetch().status == "delivered")
    wait_until(
        lambda: len(sandbox.get(f"/sandbox/twilio/messages/{sent.sid}").json()["callbacks"]) == 6
    )
    callbacks = sandbox.get(f"/sandbox/twilio/messages/{sent.sid}").json()["callbacks"]
    assert [c["attempt"] for c in callbacks] == [1, 2, 3, 1, 2, 3]
    assert all(c["response"] is None and c["error"] for c in callbacks)


def test_the_inspection_api_shows_history_and_callback_answers(
    owned, twilio, receiver, status_url, sandbox, wait_until
):
    receiver.answer(STATUS_PATH, 200, "ok", "text/plain")
    sent = twilio.messages.create(to=CUSTOMER, from_=TENANT, body="hi", status_callback=status_url)
    wait_until(
        lambda: len(sandbox.get("/sandbox/twilio/messages").json()["messages"][0]["callbacks"]) == 2
    )

    record = sandbox.get("/sandbox/twilio/messages", params={"to": CUSTOMER}).json()["messages"][0]

    assert record["sid"] == sent.sid
    assert [h["status"] for h in record["status_history"]] == ["queued", "sent", "delivered"]
    assert record["callbacks"][0]["response"] == {
        "status": 200,
        "content_type": "text/plain; charset=utf-8",
        "body": "ok",
    }
    assert record["callbacks"][0]["params"]["MessageStatus"] == "sent"
    hooks = sandbox.get("/sandbox/twilio/webhooks", params={"message_sid": sent.sid}).json()
    assert [w["kind"] for w in hooks["webhooks"]] == ["status-callback", "status-callback"]
    assert sandbox.get("/sandbox/twilio/messages", params={"direction": "inbound"}).json() == {
        "messages": []
    }


def test_a_messaging_service_sends_queued_first_and_its_sid(twilio, owned, receiver, status_url):
    service = twilio.messaging.v1.services.create(friendly_name="Acme", status_callback=status_url)
    twilio.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=owned.sid)

    twilio.messages.create(to=CUSTOMER, messaging_service_sid=service.sid, body="hi")
    callbacks = receiver.wait_for(STATUS_PATH, 3)

    assert [c.form["MessageStatus"] for c in callbacks] == ["queued", "sent", "delivered"]
    assert {c.form["MessagingServiceSid"] for c in callbacks} == {service.sid}


def test_whatsapp_callbacks_carry_the_channel(twilio, owned, receiver, status_url):
    twilio.messages.create(
        to=f"whatsapp:{CUSTOMER}", from_=f"whatsapp:{TENANT}", body="hi", status_callback=status_url
    )

    delivered = receiver.wait_for(STATUS_PATH, 2)[1].form

    assert (delivered["To"], delivered["From"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{TENANT}")
    assert (delivered["ChannelPrefix"], delivered["ChannelToAddress"]) == ("whatsapp", CUSTOMER)


def test_a_reset_stops_lifecycles_and_forgets_messages(sandbox, client_for):
    # the seeded account outlives the reset; an unreachable callback is retried (10 + 20 ms
    # pauses), so the lifecycle would outlast the reset if the reset did not end it
    seeded = client_for("AC" + "5eed" * 8, "seeded-auth-token")
    seeded.incoming_phone_numbers.create(phone_number=TENANT)
    seeded.messages.create(
        to=CUSTOMER, from_=TENANT, body="hi", status_callback="http://127.0.0.1:9/status"
    )

    sandbox.delete("/sandbox/twilio")
    time.sleep(0.2)

    assert sandbox.get("/sandbox/twilio/messages").json() == {"messages": []}
    assert sandbox.get("/sandbox/twilio/webhooks").json() == {"webhooks": []}
