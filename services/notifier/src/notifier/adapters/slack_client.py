"""Slack's Web API through the official SDK (``slack_sdk.web.async_client.AsyncWebClient``,
``chat_postMessage``), on one aiohttp session for every tenant's token. The base URL is
configurable: the provider sandbox locally, https://slack.com/api/ in production. The SDK's
retry handlers are off: a connection error after the request went out may have posted, and a
post is not sent twice (the workflow's retry policy decides, on the typed error)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from notifier.adapters.chatops_accounts import SlackConnection
from notifier.domain.chatops import PostFailed, SlackPost, retry_after_of, slack_refused
from notifier.domain.errors import unreachable

SLACK_API = "https://slack.com/api/"
# The SDK logs each request's body (the message's text) at DEBUG, its Authorization header
# redacted; a message's text has no place in the service's logs either.
_sdk_log = logging.getLogger("notifier.slack_sdk")
_sdk_log.setLevel(logging.INFO)


@dataclass(frozen=True, slots=True)
class SlackPosted:
    channel: str  # the channel's id, as Slack answers it
    ts: str

    def result(self) -> dict[str, Any]:
        return {"ts": self.ts, "channel": self.channel}


class SlackPoster(Protocol):
    async def post(
        self, connection: SlackConnection, post: SlackPost, channel: str
    ) -> SlackPosted: ...


class SlackMessages:
    def __init__(self, *, base_url: str | None, timeout_seconds: float, max_in_flight: int) -> None:
        self._base_url = base_url or SLACK_API
        if not self._base_url.endswith("/"):
            self._base_url += "/"
        self._timeout = timeout_seconds
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._session: aiohttp.ClientSession | None = None

    def _client(self, connection: SlackConnection) -> AsyncWebClient:
        if self._session is None:  # made in the running loop
            self._session = aiohttp.ClientSession()
        return AsyncWebClient(
            token=connection.bot_token.reveal(),
            base_url=self._base_url,
            timeout=max(1, round(self._timeout)),
            session=self._session,
            logger=_sdk_log,
            retry_handlers=[],
        )

    async def post(self, connection: SlackConnection, post: SlackPost, channel: str) -> SlackPosted:
        params: dict[str, Any] = {"channel": channel, "text": post.text}
        if post.blocks:
            params["blocks"] = [dict(b) for b in post.blocks]
        if post.thread_ts:
            params["thread_ts"] = post.thread_ts
            if post.reply_broadcast:
                params["reply_broadcast"] = True
        client = self._client(connection)
        async with self._in_flight:
            try:
                async with asyncio.timeout(self._timeout + 1):
                    answer = await client.chat_postMessage(**params)
            except SlackApiError as exc:
                response = exc.response
                error = response.get("error") if isinstance(response.data, dict) else None
                headers = {k.lower(): v for k, v in (response.headers or {}).items()}
                retry = retry_after_of(headers.get("retry-after"))
                raise PostFailed(slack_refused(response.status_code, error, retry)) from None
            except TimeoutError:
                raise PostFailed(
                    unreachable(f"Slack did not answer within {self._timeout:g}s")
                ) from None
            except (aiohttp.ClientError, OSError, SlackClientError) as exc:
                raise PostFailed(unreachable(f"Slack not reached: {type(exc).__name__}")) from None
        return SlackPosted(channel=str(answer["channel"]), ts=str(answer["ts"]))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
