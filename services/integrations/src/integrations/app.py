"""The integrations, assembled from the service kit: performs operations on systems of record
for waiting executions."""

from __future__ import annotations

from functools import partial

import httpx
from servicekit.service import Kit, Service
from starlette.applications import Starlette

from integrations.adapters.http_provider import HttpProvider
from integrations.adapters.store import ConnectionRepository, IntegrationCallRepository
from integrations.handlers.kafka import consume
from integrations.service import IntegrationService
from integrations.settings import Settings

NAME = "integrations"


async def assemble(kit: Kit, settings: Settings) -> None:
    calls = IntegrationCallRepository(kit.db)
    await calls.ensure_indexes()
    http = httpx.AsyncClient(follow_redirects=False)
    kit.on_stop(http.aclose)
    service = IntegrationService(
        calls,
        ConnectionRepository(kit.db, settings.connection_cache_seconds),
        HttpProvider(http, settings.max_response_bytes),
        kit.publish,
    )
    consume(kit, service)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    return Service(NAME, settings, partial(assemble, settings=settings)).starlette()
