"""Twilio's Messages API through the official SDK (``twilio.rest.Client`` on its asynchronous
HTTP client, ``messages.create_async``), one client per account and auth token, all on one
connection pool. The API's base URL is configurable: the provider sandbox locally
(deploy/local/sandbox), Twilio in production. Every create is bounded by a timeout; Twilio's
refusals and failures to reach it come back as ``SendFailed`` with a typed error."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from twilio.base.exceptions import TwilioException  # type: ignore[import-untyped, unused-ignore]
from twilio.http.async_http_client import (  # type: ignore[import-untyped, unused-ignore]
    AsyncTwilioHttpClient,
)
from twilio.rest import Client  # type: ignore[import-untyped, unused-ignore]

from notifier.adapters.twilio_accounts import TwilioAccount
from notifier.domain.errors import DeliveryError, refused, unreachable
from notifier.domain.outbound import Outbound

log = logging.getLogger(__name__)
# The SDK logs every request and response at INFO: one line per message is noise, and the
# request lines name the account.
_sdk_log = logging.getLogger("notifier.twilio_sdk")
_sdk_log.setLevel(logging.WARNING)
MAX_CLIENTS = 1000


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What Twilio answered a create with: the Message's sid and initial status."""

    sid: str
    status: str


class SendFailed(Exception):
    """The message was not accepted: refused by Twilio, or Twilio not reached in time."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(f"{error.type}: {error.message}")
        self.error = error


class MessageSender(Protocol):
    """What the notifier uses to send (tests give an in-memory one)."""

    async def send(
        self, account: TwilioAccount, outbound: Outbound, status_callback: str | None
    ) -> SentMessage: ...


class TwilioMessages:
    """Sends with the tenant's account. ``api_base_url`` None: Twilio's own
    (https://api.twilio.com)."""

    def __init__(
        self,
        *,
        api_base_url: str | None,
        timeout_seconds: float,
        max_in_flight: int,
    ) -> None:
        self._base_url = api_base_url.rstrip("/") if api_base_url else None
        self._timeout = timeout_seconds
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._http: AsyncTwilioHttpClient | None = None
        self._clients: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def _client(self, account: TwilioAccount) -> Any:
        """The account's SDK client, made once per account and token (a changed token gets
        a new one: its fingerprint is in the key, never the token)."""
        cache_key = (account.account_sid, account.token_fingerprint)
        client = self._clients.get(cache_key)
        if client is not None:
            self._clients.move_to_end(cache_key)
            return client
        if self._http is None:  # made in the running loop: aiohttp binds its session to it
            self._http = AsyncTwilioHttpClient(timeout=self._timeout, logger=_sdk_log)
        client = Client(
            account.account_sid,
            account.auth_token.reveal(),
            http_client=self._http,
            environment={},  # no TWILIO_EDGE / TWILIO_REGION from the process environment
        )
        if self._base_url is not None:
            client.api.base_url = self._base_url
        self._clients[cache_key] = client
        while len(self._clients) > MAX_CLIENTS:
            self._clients.popitem(last=False)
        return client

    async def send(
        self, account: TwilioAccount, outbound: Outbound, status_callback: str | None
    ) -> SentMessage:
        assert outbound.to is not None and outbound.from_ is not None
        params: dict[str, Any] = {"to": outbound.to, "from_": outbound.from_}
        if outbound.body:
            params["body"] = outbound.body
        if outbound.media:
            params["media_url"] = [m.url for m in outbound.media]
        if status_callback:
            params["status_callback"] = status_callback
        client = self._client(account)
        async with self._in_flight:
            try:
                # the SDK's own timeout bounds each HTTP request; this bounds the whole call
                async with asyncio.timeout(self._timeout + 1):
                    message = await client.messages.create_async(**params)
            except TwilioException as exc:
                status = getattr(exc, "status", None)
                if not isinstance(status, int):
                    raise SendFailed(unreachable(f"Twilio: {type(exc).__name__}")) from None
                code = getattr(exc, "code", None)
                text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or ""
                raise SendFailed(
                    refused(status, code if isinstance(code, int) else None, str(text))
                ) from None
            except TimeoutError:
                raise SendFailed(
                    unreachable(f"Twilio did not answer within {self._timeout:g}s")
                ) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise SendFailed(unreachable(f"Twilio not reached: {type(exc).__name__}")) from None
        return SentMessage(sid=str(message.sid), status=str(message.status or "queued"))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._clients.clear()
