"""Email attachments given by URL, fetched for SendGrid (which takes their bytes, base64): GET
without redirects, bounded in time and size, refused for hosts that resolve to non-public
addresses unless private URLs are allowed (the same guard as the tenants' webhooks)."""

from __future__ import annotations

import base64

import httpx

from notifier.adapters.twilio_client import SendFailed
from notifier.adapters.webhook_client import private_address
from notifier.domain.email import Attachment
from notifier.domain.errors import INVALID_MESSAGE, failure, unreachable


class AttachmentFetcher:
    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_bytes: int,
        allow_private: bool,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            timeout=timeout_seconds, follow_redirects=False, transport=transport
        )
        self._max_bytes = max_bytes
        self._allow_private = allow_private

    async def close(self) -> None:
        await self._http.aclose()

    async def fetched(self, attachment: Attachment) -> Attachment:
        """The attachment with its content (base64); SendFailed: InvalidMessage for a URL that
        does not answer 200 or is too large or private, ProviderUnavailable when unreachable."""
        if attachment.content is not None or attachment.url is None:
            return attachment
        url = attachment.url
        if not url.startswith(("http://", "https://")):
            raise SendFailed(failure(INVALID_MESSAGE, f"attachment URL {url[:200]} is not http(s)"))
        if not self._allow_private and (refusal := await private_address(url)) is not None:
            raise SendFailed(failure(INVALID_MESSAGE, f"attachment {url[:200]}: {refusal}"))
        try:
            async with self._http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise SendFailed(
                        failure(
                            INVALID_MESSAGE,
                            f"attachment {url[:200]} answered HTTP {response.status_code}",
                        )
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise SendFailed(
                            failure(
                                INVALID_MESSAGE,
                                f"attachment {url[:200]} is over {self._max_bytes} bytes",
                            )
                        )
                content_type = attachment.type or response.headers.get("content-type")
        except httpx.HTTPError as exc:
            raise SendFailed(
                unreachable(f"attachment {url[:200]} not fetched: {type(exc).__name__}")
            ) from None
        encoded = base64.b64encode(bytes(body)).decode()
        return Attachment(attachment.filename, encoded, url, content_type)
