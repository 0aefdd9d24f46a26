"""IncomingPhoneNumbers through the official SDK: buy, list, fetch, update, release."""

import pytest
from twilio.base.exceptions import TwilioRestException


def test_a_bought_number_has_twilios_shape(twilio, account):
    number = twilio.incoming_phone_numbers.create(
        phone_number="+14155550100",
        sms_url="http://127.0.0.1:8080/webhooks/twilio/messages",
        voice_url="http://127.0.0.1:8080/webhooks/twilio/voice",
    )

    assert number.sid.startswith("PN") and len(number.sid) == 34
    assert number.account_sid == account.sid
    assert number.phone_number == "+14155550100"
    assert number.friendly_name == "(415) 555-0100"
    assert number.sms_url == "http://127.0.0.1:8080/webhooks/twilio/messages"
    assert number.sms_method == "POST"
    assert number.voice_url == "http://127.0.0.1:8080/webhooks/twilio/voice"
    assert number.capabilities == {"voice": True, "sms": True, "mms": True, "fax": False}
    assert (
        number.uri == f"/2010-04-01/Accounts/{account.sid}/IncomingPhoneNumbers/{number.sid}.json"
    )


def test_list_fetch_update_and_release(twilio):
    first = twilio.incoming_phone_numbers.create(phone_number="+14155550100")
    twilio.incoming_phone_numbers.create(phone_number="+442071838750")

    assert {n.phone_number for n in twilio.incoming_phone_numbers.list()} == {
        "+14155550100",
        "+442071838750",
    }
    assert [n.sid for n in twilio.incoming_phone_numbers.list(phone_number="+1415")] == [first.sid]

    updated = twilio.incoming_phone_numbers(first.sid).update(
        sms_url="http://127.0.0.1:8080/sms", sms_method="GET"
    )
    assert (updated.sms_url, updated.sms_method) == ("http://127.0.0.1:8080/sms", "GET")
    assert twilio.incoming_phone_numbers(first.sid).fetch().sms_url == "http://127.0.0.1:8080/sms"

    assert twilio.incoming_phone_numbers(first.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        twilio.incoming_phone_numbers(first.sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_an_area_code_buys_a_number_there(twilio):
    number = twilio.incoming_phone_numbers.create(area_code="510")

    assert number.phone_number.startswith("+1510555")


@pytest.mark.parametrize(
    ("phone_number", "code"), [("0800-FLOWERS", 21421), ("+14155550100", 21422)]
)
def test_an_invalid_or_owned_number_cannot_be_bought(
    twilio, client_for, sandbox, phone_number, code
):
    other = sandbox.post("/sandbox/twilio/accounts", json={}).json()
    client_for(other["account_sid"], other["auth_token"]).incoming_phone_numbers.create(
        phone_number="+14155550100"
    )

    with pytest.raises(TwilioRestException) as refused:
        twilio.incoming_phone_numbers.create(phone_number=phone_number)

    assert (refused.value.status, refused.value.code) == (400, code)


def test_another_accounts_number_is_not_found(twilio, client_for, sandbox):
    other = sandbox.post("/sandbox/twilio/accounts", json={}).json()
    theirs = client_for(other["account_sid"], other["auth_token"]).incoming_phone_numbers.create(
        phone_number="+14155550100"
    )

    with pytest.raises(TwilioRestException) as hidden:
        twilio.incoming_phone_numbers(theirs.sid).fetch()

    assert hidden.value.status == 404
