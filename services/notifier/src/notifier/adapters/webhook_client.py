"""POSTs webhook events to the tenants' endpoints with httpx: one client (one connection pool)
for all, a timeout per request, redirects not followed (a 3xx is an answer like any other
non-2xx), at most ``max_in_flight`` requests at once.

With ``allow_private`` off (production), a URL whose host resolves to a loopback, private,
link-local or otherwise reserved address is not sent to (a tenant's URL must not reach our
own network: SSRF); the local configuration allows them so that tests can receive on
127.0.0.1. The check resolves the host before the request; httpx resolves it again, so a
DNS answer that changes in between is not caught: an egress proxy or firewall is the
complete guard."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from urllib.parse import urlsplit

import httpx

from notifier.domain.webhooks import Attempt

USER_AGENT = "ConnectFlo-Webhooks/1.0"


class WebhookClient:
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

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Attempt:
        async with self._slots:
            started = time.perf_counter()
            if not self._allow_private:
                refusal = await private_address(url)
                if refusal is not None:
                    return Attempt(None, _ms(started), refusal, refused=True)
            try:
                response = await self._http.post(
                    url, content=body, headers={"Content-Type": "application/json", **headers}
                )
            except httpx.TimeoutException as exc:
                return Attempt(None, _ms(started), f"timeout: {type(exc).__name__}")
            except httpx.HTTPError as exc:
                return Attempt(None, _ms(started), f"{type(exc).__name__}: {exc}")
            return Attempt(response.status_code, _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def private_address(url: str) -> str | None:
    """Why the URL's host is not one to send to, or None."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return None  # not resolvable: the request fails and is retried
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            return f"refused: {host} resolves to a non-public address ({address})"
    return None
