"""Posts to Microsoft Teams incoming webhooks with httpx: one client for all, a timeout per
post, redirects not followed. Teams takes a message when it answers 200 with the body ``1``
(it has answered 200 with an error text): anything else is a typed error. The webhook's URL
is a credential: never logged, never in an error (its host is, in neither either: the
tenant's connection names it).

With ``allow_private`` off (production) a URL whose host resolves to a non-public address
is not posted to (the tenants' webhooks' SSRF guard, notifier.adapters.webhook_client)."""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import httpx

from notifier.adapters.chatops_accounts import TeamsWebhook
from notifier.adapters.webhook_client import private_address
from notifier.domain.chatops import PostFailed, retry_after_of, teams_refused
from notifier.domain.errors import NOT_PERMITTED, DeliveryError, unreachable

USER_AGENT = "ConnectFlo-Notifier/1.0"


class TeamsPoster(Protocol):
    async def post(self, webhook: TeamsWebhook, message: dict[str, Any]) -> None: ...


class TeamsWebhooks:
    def __init__(self, *, timeout_seconds: float, max_in_flight: int, allow_private: bool) -> None:
        self._http = httpx.AsyncClient(
            timeout=timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max_in_flight),
        )
        self._slots = asyncio.Semaphore(max_in_flight)
        self._allow_private = allow_private

    async def close(self) -> None:
        await self._http.aclose()

    async def post(self, webhook: TeamsWebhook, message: dict[str, Any]) -> None:
        url = webhook.url.reveal()
        async with self._slots:
            if not self._allow_private and await private_address(url) is not None:
                raise PostFailed(
                    DeliveryError(
                        NOT_PERMITTED,
                        f"the Teams webhook {webhook.name!r} points at a non-public address",
                        retryable=False,
                    )
                )
            try:
                response = await self._http.post(url, json=message)
            except httpx.TimeoutException:
                raise PostFailed(unreachable("Teams did not answer in time")) from None
            except httpx.HTTPError as exc:
                raise PostFailed(unreachable(f"Teams not reached: {type(exc).__name__}")) from None
        if response.status_code == 200 and response.text.strip() == "1":
            return
        retry = retry_after_of(response.headers.get("retry-after"))
        raise PostFailed(teams_refused(response.status_code, response.text, retry))
