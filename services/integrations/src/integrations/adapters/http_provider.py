"""The `http` mode: an action is `POST {base_url}/{action}` to a service of the tenant's.

The body is `{action, params, idempotency_key}`; the `Idempotency-Key` header carries the key
too, so a service that deduplicates (as Stripe does) performs a redelivered call once. Nothing
of the request, the answer or the URL is logged: they may hold customer data or secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from integrations.domain.operations import IntegrationCall, IntegrationError
from integrations.domain.providers import Connection

# httpx logs every request's URL at INFO; the URL is the tenant's business, not our logs'.
logging.getLogger("httpx").setLevel(logging.WARNING)

MAX_MESSAGE = 500


class HttpProvider:
    def __init__(self, client: httpx.AsyncClient, max_response_bytes: int) -> None:
        self._client = client
        self._max_bytes = max_response_bytes

    async def perform(
        self, connection: Connection, call: IntegrationCall, idempotency_key: str
    ) -> dict[str, Any]:
        """The answer's JSON object; IntegrationError for anything else."""
        name = call.integration
        base_url = getattr(connection.config, "base_url", None)
        timeout = float(getattr(connection.config, "timeout_seconds", 10.0))
        if not base_url:
            raise IntegrationError("NotConnected", f"{name}: connection has no base_url")
        with reaching(name, timeout):
            async with self._client.stream(
                "POST",
                f"{base_url}/{call.action}",
                json={
                    "action": call.action,
                    "params": call.params,
                    "idempotency_key": idempotency_key,
                },
                headers={"Idempotency-Key": idempotency_key},
                timeout=timeout,
            ) as response:
                body = await self._read(response, name)
        status = response.status_code
        if status >= 400:
            raise IntegrationError.from_status(
                status, f"{name} answered HTTP {status}: {_said(body)}", retry_after(response)
            )
        if status >= 300:
            raise IntegrationError(
                "BadResponse",
                f"{name} answered HTTP {status} (redirects are not followed)",
                status,
            )
        return _result(body, name)

    async def _read(self, response: httpx.Response, name: str) -> bytes:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > self._max_bytes:
                raise IntegrationError(
                    "BadResponse",
                    f"{name} answered more than {self._max_bytes} bytes",
                    response.status_code,
                )
        return bytes(body)


def _result(body: bytes, name: str) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError:
        raise IntegrationError("BadResponse", f"{name} answered something not JSON") from None
    return value if isinstance(value, dict) else {"result": value}


def _said(body: bytes) -> str:
    """What the service said about its error: its `message`/`error` field, or the text."""
    try:
        value = json.loads(body)
    except ValueError:
        value = body.decode(errors="replace")
    if isinstance(value, dict):
        for key in ("message", "error", "detail"):
            if isinstance(value.get(key), str):
                value = value[key]
                break
    text = value if isinstance(value, str) else json.dumps(value)
    return text.strip()[:MAX_MESSAGE] or "(no message)"


@contextmanager
def reaching(provider: str, seconds: float) -> Iterator[None]:
    """Around one HTTP request to ``provider``: httpx's timeout is Timeout, any other transport
    failure (refused, reset, DNS) Unavailable; the URL, which may hold secrets, is not said."""
    try:
        yield
    except httpx.TimeoutException:
        raise IntegrationError(
            "Timeout", f"{provider} did not answer within {seconds:.1f}s"
        ) from None
    except httpx.TransportError as exc:
        raise IntegrationError(
            "Unavailable", f"{provider} unreachable: {type(exc).__name__}"
        ) from None
    except (UnicodeEncodeError, httpx.InvalidURL):
        raise IntegrationError(
            "Invalid",
            f"{provider}: the request cannot be made: a credential or config value holds "
            "characters an HTTP request cannot carry",
        ) from None


async def json_request(
    http: httpx.AsyncClient,
    provider: str,
    method: str,
    url: str,
    seconds: float,
    refusal: Callable[[httpx.Response, Any], IntegrationError],
    **request: Any,
) -> dict[str, Any]:
    """One request to a JSON API: its answer's object (`{}` for a 204). A 4xx or 5xx is
    ``refusal(response, its JSON or None)``, the provider's errors typed; transport failures
    as ``reaching`` types them; a 2xx that is no JSON object BadResponse."""
    with reaching(provider, seconds):
        response = await http.request(method, url, timeout=seconds, **request)
    try:
        answer = response.json() if response.content else None
    except ValueError:
        answer = None
    if response.status_code >= 400:
        raise refusal(response, answer)
    if response.status_code == 204:
        return {}
    if not isinstance(answer, dict):
        raise IntegrationError("BadResponse", f"{provider} answered something not JSON")
    return answer


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date); None without one."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
