"""Twilio's side of a webhook: the form-encoded request, signed in X-Twilio-Signature with the
account's auth token exactly as Twilio signs (the official RequestValidator computes it), sent
and recorded with what came back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx

# twilio ships no type information; the root's mypy overrides may come to say so too
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped, unused-ignore]

from .state import TwilioState, WebhookRecord, now

Signing = Literal["valid", "none", "wrong"]
MAX_RECORDED_BODY = 64 * 1024


def sign(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each parameter's name and
    value, sorted by name (for a GET, the parameters are in the URL and none follow it)."""
    signature: str = RequestValidator(auth_token).compute_signature(url, params)
    return signature


def with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


class WebhookSender:
    """Sends webhooks as Twilio and records every attempt in `state.webhooks`."""

    def __init__(
        self,
        state: TwilioState,
        *,
        timeout_s: float,
        backoff_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.state = state
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        # webhooks go to local apps: never through a proxy from the environment
        self._client = httpx.AsyncClient(
            transport=self._transport, follow_redirects=False, trust_env=False
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self,
        *,
        kind: str,
        url: str,
        method: str,
        params: dict[str, str],
        auth_token: str,
        message_sid: str | None = None,
        call_sid: str | None = None,
        signing: Signing = "valid",
        retries: int = 0,
    ) -> WebhookRecord:
        """The last attempt's record; a connection error, timeout or 5xx is retried `retries`
        times with a doubling pause. Every attempt carries the same idempotency token."""
        token = str(uuid.uuid4())
        attempt = 1
        while True:
            record = await self._attempt(
                kind,
                (message_sid, call_sid),
                url,
                method,
                params,
                auth_token,
                signing,
                token,
                attempt,
            )
            retryable = record.status is None or record.status >= 500
            if record.succeeded or not retryable or attempt > retries:
                return record
            await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            attempt += 1

    async def _attempt(
        self,
        kind: str,
        sids: tuple[str | None, str | None],
        url: str,
        method: str,
        params: dict[str, str],
        auth_token: str,
        signing: Signing,
        token: str,
        attempt: int,
    ) -> WebhookRecord:
        get = method.upper() == "GET"
        target = with_query(url, params) if get else url
        signed_params = {} if get else params
        signature: str | None = None
        if signing != "none":
            token_used = auth_token if signing == "valid" else auth_token + "-not-the-token"
            signature = sign(token_used, target, signed_params)
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
            "I-Twilio-Idempotency-Token": token,
        }
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        record = WebhookRecord(
            id=self.state.next_webhook_id(),
            kind=kind,
            message_sid=sids[0],
            call_sid=sids[1],
            url=target,
            method="GET" if get else "POST",
            params=dict(params),
            signature=signature,
            idempotency_token=token,
            attempt=attempt,
            sent_at=now(),
        )
        self.state.webhooks.append(record)
        assert self._client is not None, "WebhookSender.open() first"
        try:
            response = await self._client.request(
                record.method,
                target,
                data=None if get else params,
                headers=headers,
                timeout=self.timeout_s,
            )
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            return record
        record.status = response.status_code
        record.content_type = response.headers.get("content-type")
        record.body = response.text[:MAX_RECORDED_BODY]
        return record
