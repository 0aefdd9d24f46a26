"""Connecting a test tenant to a system of record through the public API (/v1/connections)."""

from __future__ import annotations

from typing import Any

import httpx


async def connect(
    http: httpx.AsyncClient,
    headers: dict[str, str],
    type_name: str,
    *,
    mode: str = "provider",
    name: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Create a connection (``fields``: config, credentials, is_default, limits); its view."""
    body = {"type": type_name, "name": name or f"{type_name} {mode}", "mode": mode, **fields}
    response = await http.post("/v1/connections", json=body, headers=headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made
