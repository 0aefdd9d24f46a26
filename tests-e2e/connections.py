"""Systems of record in the end-to-end tests: a test tenant connected through the public API
(/v1/connections), and the integrations service's provider clients called directly on the
provider sandbox."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest
from conftest import SANDBOX_URL
from integrations.domain.operations import IntegrationError
from integrations.domain.providers import CallContext, Connection, ProviderClient
from pydantic import BaseModel
from servicekit.sealing import Secret

P = TypeVar("P", bound=ProviderClient)


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


# -- a provider client called directly (the integrations service's own, on the sandbox) -------


def provider_connection(type_name: str, config: BaseModel, **credentials: str) -> Connection:
    """What the integrations service hands a provider client: ``config`` and ``credentials``
    opened (in the clear, as the service's resolver gives them)."""
    return Connection(
        id=f"con_{type_name}",
        tenant_id="ten_1",
        type=type_name,
        name=f"{type_name} test",
        config=config,
        credentials={name: Secret(value) for name, value in credentials.items()},
    )


def call_context(key: str = "key-1", seconds: float = 10.0) -> CallContext:
    return CallContext.within(key, seconds)


@asynccontextmanager
async def http_provider(
    make: Callable[[httpx.AsyncClient], P],
) -> AsyncIterator[P]:
    """A provider client on its own httpx client, closed after the test."""
    async with httpx.AsyncClient(follow_redirects=False) as http:
        client = make(http)
        try:
            yield client
        finally:
            await client.aclose()


def client_fixture(make: Callable[[httpx.AsyncClient], P]) -> Any:
    """A test module's ``client`` fixture: ``client = client_fixture(JiraClient)``."""

    @pytest.fixture
    async def client() -> AsyncIterator[P]:
        async with http_provider(make) as made:
            yield made

    return client


async def refusal(
    client: ProviderClient, connection: Connection, action: str, params: dict[str, Any]
) -> IntegrationError:
    """The IntegrationError ``action`` is refused with (the test fails if it is performed)."""
    with pytest.raises(IntegrationError) as raised:
        await client.call(connection, action, params, call_context())
    return raised.value


async def sandbox_made(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST ``body`` to the sandbox's control API at ``path`` (an account, store, database)."""
    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        made = await sandbox.post(path, json=body)
        assert made.status_code == 201, made.text
        return dict(made.json())


async def sandbox_state(path: str) -> dict[str, Any]:
    """What the sandbox holds at ``path`` (its control API)."""
    async with httpx.AsyncClient(base_url=SANDBOX_URL) as sandbox:
        answer = await sandbox.get(path)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())
