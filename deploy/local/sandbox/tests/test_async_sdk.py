"""The notifier's way in: the SDK's asyncio client (AsyncTwilioHttpClient, aiohttp) and the
*_async methods, over real HTTP to the sandbox."""

import asyncio

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

# twilio 9.13's aiohttp client passes BasicAuth, which aiohttp 3.14 deprecates: not ours to fix
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*(BasicAuth|'auth' parameter).*:DeprecationWarning"
)

TENANT = "+14155550100"
CUSTOMER = "+14155550199"


@pytest.fixture
async def async_twilio(sandbox_server, account):
    http_client = AsyncTwilioHttpClient(timeout=10)  # made on the loop: aiohttp wants one
    client = Client(account.sid, account.token, http_client=http_client)
    client.api.base_url = sandbox_server.url
    yield client
    await http_client.close()


async def eventually(check, timeout=10.0):
    for _ in range(int(timeout / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_create_async_sends_and_the_callbacks_validate(async_twilio, account, receiver):
    await async_twilio.incoming_phone_numbers.create_async(phone_number=TENANT)

    sent = await async_twilio.messages.create_async(
        to=CUSTOMER,
        from_=TENANT,
        body="Your order shipped",
        media_url=["https://example.com/a.jpg", "https://example.com/b.jpg"],
        status_callback=f"{receiver.url}/webhooks/twilio/status",
    )

    assert (sent.status, sent.num_media, sent.account_sid) == ("queued", "2", account.sid)

    async def delivered():
        return (await async_twilio.messages(sent.sid).fetch_async()).status == "delivered"

    await eventually(delivered)
    # the status changes before its callback is posted: wait for the receiver, not the store
    callbacks = await asyncio.to_thread(receiver.wait_for, "/webhooks/twilio/status", 2)
    assert [c.form["MessageStatus"] for c in callbacks] == ["sent", "delivered"]
    validator = RequestValidator(account.token)
    assert all(
        validator.validate(c.url, c.form, c.headers["x-twilio-signature"]) for c in callbacks
    )
    listed = await async_twilio.messages.list_async(to=CUSTOMER, limit=10)
    assert [m.sid for m in listed] == [sent.sid]


async def test_refusals_raise_twilio_rest_exception_async(async_twilio):
    await async_twilio.incoming_phone_numbers.create_async(phone_number=TENANT)

    with pytest.raises(TwilioRestException) as refused:
        await async_twilio.messages.create_async(to="+15005550004", from_=TENANT, body="x")

    assert (refused.value.status, refused.value.code) == (400, 21610)


async def test_the_rate_limit_reaches_the_async_client(async_twilio, sandbox, account):
    await async_twilio.incoming_phone_numbers.create_async(phone_number=TENANT)
    sandbox.post("/sandbox/twilio/accounts", json={"account_sid": account.sid, "rps": 1})

    results = await asyncio.gather(
        *(
            async_twilio.messages.create_async(to=CUSTOMER, from_=TENANT, body="x")
            for _ in range(3)
        ),
        return_exceptions=True,
    )

    limited = [r for r in results if isinstance(r, TwilioRestException)]
    assert limited
    assert {(r.status, r.code) for r in limited} == {(429, 20429)}
