"""The Messages API through the official SDK: what a create answers, fetch, list and paging,
and the errors Twilio answers, with its codes and HTTP statuses."""

import re
from email.utils import parsedate_to_datetime

import pytest
from twilio.base.exceptions import TwilioRestException

TENANT = "+14155550100"
CUSTOMER = "+14155550199"


@pytest.fixture
def owned(twilio):
    return twilio.incoming_phone_numbers.create(phone_number=TENANT)


def test_a_created_message_has_twilios_shape(twilio, account, owned, sandbox):
    answer = sandbox.post(
        f"/2010-04-01/Accounts/{account.sid}/Messages.json",
        data={"To": CUSTOMER, "From": TENANT, "Body": "Your order shipped"},
        auth=(account.sid, account.token),
    )

    assert answer.status_code == 201
    body = answer.json()
    assert re.fullmatch("SM[0-9a-f]{32}", body["sid"])
    assert parsedate_to_datetime(body["date_created"]).tzinfo is not None
    uri = f"/2010-04-01/Accounts/{account.sid}/Messages/{body['sid']}"
    assert body | {"sid": None, "date_created": None, "date_updated": None} == {
        "account_sid": account.sid,
        "api_version": "2010-04-01",
        "body": "Your order shipped",
        "date_created": None,
        "date_sent": None,
        "date_updated": None,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": TENANT,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": None,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": CUSTOMER,
        "uri": f"{uri}.json",
    }


def test_the_sdk_creates_fetches_and_sees_it_delivered(twilio, owned, wait_until):
    sent = twilio.messages.create(to=CUSTOMER, from_=TENANT, body="hello")

    assert (sent.status, sent.direction, sent.to, sent.from_) == (
        "queued",
        "outbound-api",
        CUSTOMER,
        TENANT,
    )
    wait_until(lambda: twilio.messages(sent.sid).fetch().status == "delivered")
    assert twilio.messages(sent.sid).fetch().date_sent is not None


def test_media_urls_are_repeated_parameters_and_make_an_mms(twilio, owned):
    sent = twilio.messages.create(
        to=CUSTOMER,
        from_=TENANT,
        media_url=["https://example.com/a.jpg", "https://example.com/b.png"],
    )

    assert sent.sid.startswith("MM")
    assert (sent.num_media, sent.body) == ("2", "")


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("x" * 160, "1"),
        ("x" * 161, "2"),
        ("€" * 80, "1"),
        ("€" * 81, "2"),
        ("é" * 160, "1"),
        ("ü" + "ł" * 70, "2"),
    ],
)
def test_segments_are_counted_as_gsm7_or_ucs2(twilio, owned, body, segments):
    assert twilio.messages.create(to=CUSTOMER, from_=TENANT, body=body).num_segments == segments


def test_list_filters_by_to_and_pages_newest_first(twilio, owned):
    sids = [twilio.messages.create(to=CUSTOMER, from_=TENANT, body=f"#{n}").sid for n in range(5)]
    twilio.messages.create(to="+14155550123", from_=TENANT, body="someone else")

    listed = twilio.messages.list(to=CUSTOMER, page_size=2)
    first_page = twilio.messages.page(to=CUSTOMER, page_size=2)

    assert [m.sid for m in listed] == sids[::-1]
    assert len(list(first_page)) == 2
    assert first_page.next_page_url is not None
    assert len(twilio.messages.list(from_=TENANT)) == 6
    assert twilio.messages.list(to="+19999999999") == []


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from_": TENANT, "body": "x", "to": ""}, 400, 21604),
        ({"to": CUSTOMER, "body": "x"}, 400, 21603),
        ({"to": CUSTOMER, "from_": TENANT}, 400, 21602),
        ({"to": CUSTOMER, "from_": TENANT, "body": "x" * 1601}, 400, 21617),
        ({"to": "+1415", "from_": TENANT, "body": "x"}, 400, 21211),
        ({"to": "555-0199", "from_": TENANT, "body": "x"}, 400, 21211),
        ({"to": "+15005550001", "from_": TENANT, "body": "x"}, 400, 21211),
        ({"to": "+15005550002", "from_": TENANT, "body": "x"}, 400, 21612),
        ({"to": "+15005550003", "from_": TENANT, "body": "x"}, 400, 21408),
        ({"to": "+15005550004", "from_": TENANT, "body": "x"}, 400, 21610),
        ({"to": "+15005550009", "from_": TENANT, "body": "x"}, 400, 21614),
        ({"to": CUSTOMER, "from_": "+14155550111", "body": "x"}, 400, 21659),
        ({"to": CUSTOMER, "from_": "Acme!", "body": "x"}, 400, 21212),
        ({"to": f"whatsapp:{CUSTOMER}", "from_": TENANT, "body": "x"}, 400, 21910),
        ({"to": CUSTOMER, "from_": TENANT, "body": "x", "status_callback": "ftp://x"}, 400, 21609),
        ({"to": CUSTOMER, "messaging_service_sid": "MG1", "body": "x"}, 400, 21705),
        ({"to": CUSTOMER, "messaging_service_sid": "MG" + "0" * 32, "body": "x"}, 400, 21701),
    ],
)
def test_refusals_carry_twilios_code_and_status(twilio, owned, params, status, code):
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(**params)

    assert (refused.value.status, refused.value.code) == (status, code)


def test_another_accounts_number_is_not_a_sender(twilio, owned, sandbox, client_for):
    other = sandbox.post("/sandbox/twilio/accounts", json={}).json()
    theirs = client_for(other["account_sid"], other["auth_token"])

    with pytest.raises(TwilioRestException) as refused:
        theirs.messages.create(to=CUSTOMER, from_=TENANT, body="x")

    assert (refused.value.status, refused.value.code) == (400, 21660)


def test_the_error_body_is_twilios(sandbox, account, owned):
    answer = sandbox.post(
        f"/2010-04-01/Accounts/{account.sid}/Messages.json",
        data={"From": TENANT, "Body": "x"},
        auth=(account.sid, account.token),
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "code": 21604,
        "message": "A 'To' phone number is required.",
        "more_info": "https://www.twilio.com/docs/errors/21604",
        "status": 400,
    }


def test_a_message_of_another_account_is_not_found(twilio, owned, sandbox, client_for):
    sent = twilio.messages.create(to=CUSTOMER, from_=TENANT, body="x")
    other = sandbox.post("/sandbox/twilio/accounts", json={}).json()

    theirs = client_for(other["account_sid"], other["auth_token"])

    with pytest.raises(TwilioRestException) as hidden:
        theirs.messages(sent.sid).fetch()

    assert (hidden.value.status, hidden.value.code) == (404, 20404)


def test_whatsapp_senders_are_the_registered_number(twilio, owned, wait_until):
    sent = twilio.messages.create(
        to=f"whatsapp:{CUSTOMER}", from_=f"whatsapp:{TENANT}", body="Hi from WhatsApp"
    )

    assert (sent.to, sent.from_, sent.num_segments) == (
        f"whatsapp:{CUSTOMER}",
        f"whatsapp:{TENANT}",
        "1",
    )
    wait_until(lambda: twilio.messages(sent.sid).fetch().status == "delivered")


def test_a_messaging_service_sends_from_its_pool_and_starts_accepted(twilio, owned, wait_until):
    service = twilio.messaging.v1.services.create(friendly_name="Acme support")
    twilio.messaging.v1.services(service.sid).phone_numbers.create(phone_number_sid=owned.sid)

    sent = twilio.messages.create(to=CUSTOMER, messaging_service_sid=service.sid, body="hi")

    assert (sent.status, sent.messaging_service_sid, sent.from_) == (
        "accepted",
        service.sid,
        TENANT,
    )
    assert sent.num_segments == "0"
    wait_until(lambda: twilio.messages(sent.sid).fetch().status == "delivered")
    assert twilio.messages(sent.sid).fetch().num_segments == "1"


def test_an_empty_messaging_service_has_no_sender(twilio, owned):
    service = twilio.messaging.v1.services.create(friendly_name="Empty")

    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(to=CUSTOMER, messaging_service_sid=service.sid, body="hi")

    assert refused.value.code == 21703


def test_a_deleted_message_is_gone(twilio, owned):
    sent = twilio.messages.create(to=CUSTOMER, from_=TENANT, body="x")

    assert twilio.messages(sent.sid).delete() is True
    assert twilio.messages.list() == []
