"""The openai classification engine, as the executor reaches it: the integrations service's
internal `POST /internal/tenants/{tenant}/classify`, which opens the tenant's `openai`
connection (the executor holds no credentials) and asks the model for a structured answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

Document = dict[str, Any]


class EngineFailed(Exception):
    """The engine gave no answer (the reason says why; no secret in it)."""


class RemoteIntentEngine:
    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_seconds)

    async def classify(
        self,
        tenant_id: str,
        connection: str | None,
        model: str | None,
        text: str,
        intents: Sequence[Document],
    ) -> Document:
        """``{"intent": name or None, "confidence", "model", ...}``; EngineFailed otherwise."""
        body = {"connection": connection, "model": model, "text": text, "intents": intents}
        try:
            answer = await self._http.post(f"/internal/tenants/{tenant_id}/classify", json=body)
        except httpx.TimeoutException:
            raise EngineFailed("the openai engine did not answer in time") from None
        except httpx.HTTPError as exc:
            raise EngineFailed(
                f"the integrations service is unreachable ({type(exc).__name__})"
            ) from None
        if answer.status_code != 200:
            raise EngineFailed(f"the integrations service answered {answer.status_code}")
        said: Document = answer.json()
        if not said.get("ok"):
            error = said.get("error") or {}
            raise EngineFailed(f"{error.get('type', 'Error')}: {error.get('message', '')}"[:300])
        return dict(said["result"])

    async def aclose(self) -> None:
        await self._http.aclose()
