"""The notifier's email sender through the real sendgrid SDK (in its thread pool) against the
real provider sandbox on a free port: what SendGrid receives, and its refusals, rate limits
and silences as typed errors."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from notifier.adapters.attachments import AttachmentFetcher
from notifier.adapters.sendgrid_accounts import SendGridAccount
from notifier.adapters.sendgrid_client import SendGridMail
from notifier.adapters.twilio_client import SendFailed
from notifier.domain.email import Attachment, EmailContent, mail_body
from servicekit.sealing import Secret


async def sandbox_account(sandbox_url: str, **asked: Any) -> SendGridAccount:
    async with httpx.AsyncClient(base_url=sandbox_url, timeout=10) as http:
        created = await http.post("/sandbox/sendgrid/accounts", json=asked)
    assert created.status_code == 201, created.text
    key = created.json()["api_key"]
    return SendGridAccount("ten_1", Secret(key), "fp1", "support@acme.test", "Acme", None)


def body(to: str = "ann@example.com", **content: Any) -> dict[str, Any]:
    email = EmailContent(to=(to,), **{"subject": "Hi", "text": "Hello", **content})
    return mail_body(
        email,
        from_email="support@acme.test",
        from_name="Acme",
        reply_to="help@reply.acme.test",
        message_id_value="<msg_1@acme.test>",
        custom_args={"cf_message_id": "msg_1"},
    )


@pytest.fixture
async def sender(sandbox_url: str) -> AsyncIterator[SendGridMail]:
    mail = SendGridMail(api_base_url=sandbox_url, timeout_seconds=5, max_in_flight=4)
    yield mail
    await mail.close()


async def test_a_mail_send_is_accepted_with_its_message_id(sandbox_url, sender) -> None:
    account = await sandbox_account(sandbox_url)
    sent = await asyncio.gather(*(sender.send(account, body()) for _ in range(3)))

    assert len(set(sent)) == 3
    async with httpx.AsyncClient(base_url=sandbox_url) as http:
        record = (await http.get(f"/sandbox/sendgrid/messages/{sent[0]}")).json()
    assert record["request"]["custom_args"] == {"cf_message_id": "msg_1"}
    assert record["request"]["headers"]["Message-ID"] == "<msg_1@acme.test>"
    assert record["request"]["reply_to"] == {"email": "help@reply.acme.test"}


async def test_a_wrong_key_is_authentication_failed(sandbox_url, sender) -> None:
    account = SendGridAccount("ten_1", Secret("SG.wrong.key"), "fp2", "a@acme.test", None, None)
    with pytest.raises(SendFailed) as failed:
        await sender.send(account, body())
    error = failed.value.error
    assert (error.type, error.retryable, error.http_status) == ("AuthenticationFailed", False, 401)
    assert "SG.wrong.key" not in str(error) + str(failed.value)


async def test_a_refused_body_is_invalid_message_naming_the_field(sandbox_url, sender) -> None:
    account = await sandbox_account(sandbox_url)
    with pytest.raises(SendFailed) as failed:
        await sender.send(account, body(to="not-an-address"))
    error = failed.value.error
    assert (error.type, error.retryable) == ("InvalidMessage", False)
    assert "personalizations.0.to.0.email" in error.message


async def test_over_the_rate_is_rate_limited_with_when(sandbox_url, sender) -> None:
    account = await sandbox_account(sandbox_url, rps=1)
    await sender.send(account, body())
    with pytest.raises(SendFailed) as failed:
        await sender.send(account, body())
    error = failed.value.error
    assert (error.type, error.retryable) == ("RateLimited", True)
    assert error.retry_after_seconds is not None and error.retry_after_seconds >= 1


async def test_sendgrid_not_answering_is_provider_unavailable() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    mail = SendGridMail(api_base_url=f"http://127.0.0.1:{port}", timeout_seconds=1, max_in_flight=1)
    account = SendGridAccount("ten_1", Secret("SG.a.b"), "fp3", "a@acme.test", None, None)
    with pytest.raises(SendFailed) as failed:
        await mail.send(account, body())
    await mail.close()
    assert (failed.value.error.type, failed.value.error.retryable) == ("ProviderUnavailable", True)


async def test_sends_do_not_block_the_event_loop(sandbox_url, sender) -> None:
    account = await sandbox_account(sandbox_url)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    ticker = asyncio.create_task(tick())
    await asyncio.gather(*(sender.send(account, body()) for _ in range(8)))
    ticker.cancel()
    assert ticks > 1


async def test_an_attachment_on_a_private_host_is_not_fetched() -> None:
    fetcher = AttachmentFetcher(timeout_seconds=1, max_bytes=100, allow_private=False)
    with pytest.raises(SendFailed) as failed:
        await fetcher.fetched(Attachment("x", None, "http://127.0.0.1:9/x", None))
    await fetcher.close()
    assert failed.value.error.type == "InvalidMessage"
    assert "non-public" in failed.value.error.message
