"""SendGrid's side of its webhooks: the Event Webhook (a JSON array of events, signed as
SendGrid's Signed Event Webhook signs: ECDSA P-256 with SHA-256 over the timestamp followed by
the raw body, the DER signature in base64 in ``X-Twilio-Email-Event-Webhook-Signature``, the
timestamp in ``X-Twilio-Email-Event-Webhook-Timestamp``) and Inbound Parse (multipart/form-data,
unsigned, as SendGrid posts it). Every attempt is recorded."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from typing import Any, Literal

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from .state import Account, SendGridState, WebhookRecord, now

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
Signing = Literal["valid", "none", "wrong"]
MAX_RECORDED_BODY = 16 * 1024


def sign(private_key: ec.EllipticCurvePrivateKey, timestamp: str, payload: bytes) -> str:
    signature = private_key.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode()


def multipart(
    boundary: str, fields: dict[str, str], files: list[tuple[str, tuple[str, bytes, str]]]
) -> bytes:
    """A multipart/form-data body (RFC 7578)."""
    out = bytearray()
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, (filename, content, content_type) in files:
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        out += content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


class WebhookSender:
    def __init__(
        self,
        state: SendGridState,
        *,
        timeout_s: float,
        retries: int,
        backoff_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.state = state
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self._client = httpx.AsyncClient(
            transport=self._transport, follow_redirects=False, trust_env=False
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def events(
        self,
        account: Account,
        events: list[dict[str, Any]],
        *,
        message_id: str | None,
        signing: Signing = "valid",
        timestamp: str | None = None,
    ) -> WebhookRecord | None:
        """POST ``events`` to the account's Event Webhook URL (none set: nothing is sent);
        a 5xx or no answer is retried (SendGrid retries for 24 hours)."""
        if not account.event_webhook_url or not account.event_webhook_enabled:
            return None
        payload = json.dumps(events, separators=(",", ":")).encode()
        attempt = 1
        while True:
            stamp = timestamp or str(int(time.time()))
            headers = {"Content-Type": "application/json", "User-Agent": "SendGrid Event API"}
            if account.signed and signing != "none":
                key = account.private_key
                if signing == "wrong":
                    key = ec.generate_private_key(ec.SECP256R1())
                headers[SIGNATURE] = sign(key, stamp, payload)
                headers[TIMESTAMP] = stamp
            record = await self._post(
                "event-webhook",
                account,
                account.event_webhook_url,
                message_id,
                events,
                headers,
                attempt,
                content=payload,
            )
            retryable = record.status is None or record.status >= 500
            if not retryable or attempt > self.retries:
                return record
            await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
            attempt += 1

    async def parse(
        self,
        account: Account,
        url: str,
        fields: dict[str, str],
        files: list[tuple[str, tuple[str, bytes, str]]],
        *,
        message_id: str | None,
    ) -> WebhookRecord:
        """POST an inbound email to a parse URL, multipart/form-data (always, as SendGrid:
        with no attachment too); no retries here (the caller sees the answer)."""
        boundary = "xYzZY" + secrets.token_hex(8)
        headers = {
            "User-Agent": "Sendlib/1.0",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        body = multipart(boundary, fields, files)
        return await self._post(
            "inbound-parse", account, url, message_id, fields, headers, 1, content=body
        )

    async def _post(
        self,
        kind: str,
        account: Account,
        url: str,
        message_id: str | None,
        payload: Any,
        headers: dict[str, str],
        attempt: int,
        **request: Any,
    ) -> WebhookRecord:
        record = WebhookRecord(
            id=self.state.next_webhook_id(),
            kind=kind,
            url=url,
            account_id=account.account_id,
            message_id=message_id,
            payload=payload,
            headers=headers,
            attempt=attempt,
            sent_at=now(),
        )
        self.state.webhooks.append(record)
        assert self._client is not None, "WebhookSender.open() first"
        try:
            response = await self._client.post(
                url, headers=headers, timeout=self.timeout_s, **request
            )
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            return record
        record.status = response.status_code
        record.body = response.text[:MAX_RECORDED_BODY]
        return record
