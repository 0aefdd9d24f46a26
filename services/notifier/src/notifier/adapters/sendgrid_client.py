"""SendGrid's v3 Mail Send through the official SDK (``SendGridAPIClient``, its ``host`` the
configurable base URL: the provider sandbox locally, https://api.sendgrid.com in production).
The SDK is synchronous (urllib): each send runs in a bounded thread pool, never on the event
loop, with a timeout per request. SendGrid's refusals and failures to reach it come back as
``SendFailed`` with a typed error; the API key is never in one."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import urllib.error
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Protocol

from python_http_client.exceptions import HTTPError  # type: ignore[import-untyped, unused-ignore]
from sendgrid import SendGridAPIClient  # type: ignore[import-untyped, unused-ignore]

from notifier.adapters.sendgrid_accounts import SendGridAccount
from notifier.adapters.twilio_client import SendFailed
from notifier.domain.email_errors import sendgrid_refused
from notifier.domain.errors import unreachable

log = logging.getLogger(__name__)
logging.getLogger("python_http_client").setLevel(logging.WARNING)  # it logs request bodies
SENDGRID_API = "https://api.sendgrid.com"
MAX_CLIENTS = 1000


class MailSender(Protocol):
    """What the notifier uses to send an email (tests give an in-memory one): SendGrid's
    X-Message-Id."""

    async def send(self, account: SendGridAccount, body: dict[str, Any]) -> str: ...


class SendGridMail:
    def __init__(
        self, *, api_base_url: str | None, timeout_seconds: float, max_in_flight: int
    ) -> None:
        self._host = (api_base_url or SENDGRID_API).rstrip("/")
        self._timeout = timeout_seconds
        self._pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="sendgrid")
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._clients: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def _client(self, account: SendGridAccount) -> Any:
        """One SDK client per tenant and key (its fingerprint in the cache key, never the key)."""
        cache_key = (account.tenant_id, account.key_fingerprint)
        client = self._clients.get(cache_key)
        if client is not None:
            self._clients.move_to_end(cache_key)
            return client
        client = SendGridAPIClient(account.api_key.reveal(), host=self._host)
        client.client.timeout = self._timeout  # python_http_client passes it to urllib
        self._clients[cache_key] = client
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        return client

    async def send(self, account: SendGridAccount, body: dict[str, Any]) -> str:
        client = self._client(account)
        loop = asyncio.get_running_loop()
        async with self._in_flight:
            try:
                async with asyncio.timeout(self._timeout + 1):
                    response = await loop.run_in_executor(
                        self._pool, partial(client.client.mail.send.post, request_body=body)
                    )
            except HTTPError as exc:
                raise SendFailed(_refused(exc)) from None
            except TimeoutError:
                raise SendFailed(
                    unreachable(f"SendGrid did not answer within {self._timeout:g}s")
                ) from None
            except (urllib.error.URLError, OSError) as exc:
                raise SendFailed(
                    unreachable(f"SendGrid not reached: {type(exc).__name__}")
                ) from None
        message_id = _header(response.headers, "X-Message-Id")
        if not message_id:
            raise SendFailed(unreachable("SendGrid answered without an X-Message-Id"))
        return message_id

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._clients.clear()


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name) if hasattr(headers, "get") else None
    return str(value) if value else None


def _refused(exc: HTTPError) -> Any:
    status = int(getattr(exc, "status_code", 0) or 0)
    messages: list[str] = []
    try:
        body = json.loads(exc.body or b"{}")
        messages = [
            f"{e.get('field')}: {e.get('message')}" if e.get("field") else str(e.get("message"))
            for e in body.get("errors") or []
            if isinstance(e, dict)
        ]
    except (ValueError, AttributeError, TypeError):
        pass
    retry_after = None
    reset = _header(getattr(exc, "headers", None), "X-RateLimit-Reset")
    if reset and reset.isdigit():
        retry_after = float(max(1, math.ceil(int(reset) - time.time())))
    return sendgrid_refused(status, messages, retry_after)
