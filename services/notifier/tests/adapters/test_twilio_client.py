"""The notifier's Twilio sender through the real twilio SDK (its asynchronous HTTP client)
against the real provider sandbox on a free port: what it creates, and Twilio's refusals,
rate limits and silences as typed errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from notifier.adapters.twilio_accounts import TwilioAccount
from notifier.adapters.twilio_client import SendFailed, TwilioMessages
from notifier.domain.outbound import Media, Outbound
from servicekit.sealing import Secret

# the SDK's own use of aiohttp's deprecated BasicAuth
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
NUMBER = "+14155550100"
CUSTOMER = "+14155550199"


async def sandbox_account(sandbox_url: str, *, rps: float | None = None) -> TwilioAccount:
    """A fresh sandbox (reset) with an account that has the number NUMBER."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as http:
        assert (await http.delete("/sandbox/twilio")).status_code == 200
        asked = {} if rps is None else {"rps": rps}
        created = await http.post("/sandbox/twilio/accounts", json=asked)
        assert created.status_code == 201, created.text
        sid, token = created.json()["account_sid"], created.json()["auth_token"]
        bought = await http.post(
            f"/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json",
            data={"PhoneNumber": NUMBER},
            auth=(sid, token),
        )
        assert bought.status_code == 201, bought.text
    return TwilioAccount("ten_1", sid, Secret(token), "fp1", (NUMBER,), (NUMBER,))


@pytest.fixture
async def account(sandbox_url: str) -> TwilioAccount:
    return await sandbox_account(sandbox_url)


async def recorded(sandbox_url: str, sid: str) -> dict[str, Any]:
    """The message as the sandbox received it."""
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as http:
        answer = await http.get(f"/sandbox/twilio/messages/{sid}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.fixture
async def sender(sandbox_url: str) -> AsyncIterator[TwilioMessages]:
    messages = TwilioMessages(api_base_url=sandbox_url, timeout_seconds=5, max_in_flight=4)
    yield messages
    await messages.close()


def sms(to: str = CUSTOMER) -> Outbound:
    return Outbound("sms", "Your order shipped", to=to, from_=NUMBER)


async def test_a_message_is_created_with_its_callback_and_media(
    sandbox_url: str, account: TwilioAccount, sender: TwilioMessages
) -> None:
    outbound = Outbound(
        "sms", "Receipt attached", (Media("https://cdn.test/r.png"),), CUSTOMER, NUMBER
    )
    sent = await sender.send(account, outbound, "http://127.0.0.1:9/webhooks/twilio/status")
    assert sent.sid.startswith("MM") and sent.status == "queued"  # MM: a message with media
    message = await recorded(sandbox_url, sent.sid)
    assert (message["to"], message["from"], message["body"]) == (
        CUSTOMER,
        NUMBER,
        "Receipt attached",
    )
    assert message["media_urls"] == ["https://cdn.test/r.png"]
    assert message["status_callback"] == "http://127.0.0.1:9/webhooks/twilio/status"
    assert message["account_sid"] == account.account_sid


async def test_whatsapp_is_sent_from_the_numbers_whatsapp_address(
    sandbox_url: str, account: TwilioAccount, sender: TwilioMessages
) -> None:
    outbound = Outbound("whatsapp", "hi", to="whatsapp:" + CUSTOMER, from_="whatsapp:" + NUMBER)
    sent = await sender.send(account, outbound, None)
    message = await recorded(sandbox_url, sent.sid)
    assert message["to"] == "whatsapp:" + CUSTOMER and message["status_callback"] is None


@pytest.mark.parametrize(
    ("to", "kind", "code"),
    [
        ("+15005550001", "InvalidRecipient", 21211),
        ("+15005550009", "InvalidRecipient", 21614),
        ("+15005550004", "RecipientUnsubscribed", 21610),
        ("+15005550003", "NotPermitted", 21408),
        ("12", "InvalidRecipient", 21211),
    ],
)
async def test_twilios_refusals_are_typed(
    account: TwilioAccount, sender: TwilioMessages, to: str, kind: str, code: int
) -> None:
    with pytest.raises(SendFailed) as refused:
        await sender.send(account, sms(to), None)
    error = refused.value.error
    assert (error.type, error.code, error.http_status, error.retryable) == (kind, code, 400, False)
    assert error.message  # Twilio's own words


async def test_a_wrong_token_is_an_authentication_failure(
    account: TwilioAccount, sender: TwilioMessages
) -> None:
    wrong = TwilioAccount("ten_1", account.account_sid, Secret("0" * 32), "fp2", (), ())
    with pytest.raises(SendFailed) as refused:
        await sender.send(wrong, sms(), None)
    assert (refused.value.error.type, refused.value.error.code) == ("AuthenticationFailed", 20003)
    assert "0" * 32 not in str(refused.value)  # the token never in an error


async def test_a_sender_that_is_not_the_accounts_is_not_permitted(
    account: TwilioAccount, sender: TwilioMessages
) -> None:
    outbound = Outbound("sms", "hi", to=CUSTOMER, from_="+14155550111")
    with pytest.raises(SendFailed) as refused:
        await sender.send(account, outbound, None)
    assert (refused.value.error.type, refused.value.error.code) == ("NotPermitted", 21659)


async def test_twilios_rate_limit_is_worth_another_attempt(
    sandbox_url: str, sender: TwilioMessages
) -> None:
    slow = await sandbox_account(sandbox_url, rps=1)
    errors = []
    for _ in range(3):
        try:
            await sender.send(slow, sms(), None)
        except SendFailed as exc:
            errors.append(exc.error)
    assert errors and {(e.type, e.code, e.retryable) for e in errors} == {
        ("RateLimited", 20429, True)
    }


async def test_twilio_not_answering_is_worth_another_attempt(account: TwilioAccount) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: refused
    try:
        for url, reason in (
            (f"http://127.0.0.1:{silent.getsockname()[1]}", "did not answer within 0.5s"),
            (f"http://127.0.0.1:{closed.getsockname()[1]}", "not reached"),
        ):
            sender = TwilioMessages(api_base_url=url, timeout_seconds=0.5, max_in_flight=1)
            try:
                with pytest.raises(SendFailed) as failed:
                    await sender.send(account, sms(), None)
            finally:
                await sender.close()
            error = failed.value.error
            assert (error.type, error.retryable) == ("ProviderUnavailable", True)
            assert reason in error.message
    finally:
        silent.close()
        closed.close()
