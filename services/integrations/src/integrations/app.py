"""The integrations, assembled from the service kit: performs operations on systems of record
for waiting executions, and checks a connection when the gateway asks."""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any

import httpx
from servicekit.oauth import oauth_apps
from servicekit.sealing import Keyring
from servicekit.service import Kit, Service
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations.adapters.connections import ConnectionDirectory
from integrations.adapters.http_provider import HttpProvider
from integrations.adapters.knowledge import KnowledgeReader
from integrations.adapters.oauth_refresh import TokenRefresher
from integrations.adapters.store import IntegrationCallRepository
from integrations.handlers.kafka import consume
from integrations.providers import clients
from integrations.service import IntegrationService
from integrations.settings import Settings
from integrations.throttle import Throttle

NAME = "integrations"
log = logging.getLogger(__name__)


async def assemble(kit: Kit, settings: Settings, made: dict[str, Any]) -> None:
    calls = IntegrationCallRepository(kit.db)
    await calls.ensure_indexes()
    keyring = Keyring.from_environment()
    if keyring is None:
        log.warning("no KEK (CONNECTFLO_KEKS, CONNECTFLO_KEK_FILE): no credentials can be opened")
    http = httpx.AsyncClient(follow_redirects=False)
    kit.on_stop(http.aclose)
    providers = clients(http, KnowledgeReader(kit.db))
    for client in providers.values():
        kit.on_stop(client.aclose)
    directory = ConnectionDirectory(kit.db, keyring, settings.connection_cache_seconds)
    service = IntegrationService(
        calls,
        directory,
        providers,
        HttpProvider(http, settings.max_response_bytes),
        kit.publish,
        Throttle(settings.max_calls_in_flight),
        retry_budget_seconds=settings.retry_budget_seconds,
        max_attempts=settings.max_attempts,
        max_active_per_tenant=settings.max_active_per_tenant,
        refresh=TokenRefresher(
            directory, oauth_apps(os.environ), http, settings.oauth_refresh_leeway_seconds
        ),
        refresh_leeway_seconds=settings.oauth_refresh_leeway_seconds,
    )
    made["service"] = service
    consume(kit, service, settings.max_queued)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    made: dict[str, Any] = {}

    async def check(request: Request) -> JSONResponse:
        """Internal (the gateway's "check connection"): the provider's cheap read."""
        service: IntegrationService | None = made.get("service")
        if service is None:
            return JSONResponse({"detail": "starting"}, status_code=503)
        result, error = await service.check(
            request.path_params["tenant_id"], request.path_params["connection_id"]
        )
        return JSONResponse({"ok": error is None, "result": result, "error": error})

    async def classify(request: Request) -> JSONResponse:
        """Internal (the executor's intake, for a tenant whose classification engine is
        openai): ``{"connection": id or name or null, "model", "text", "intents"}``."""
        service: IntegrationService | None = made.get("service")
        if service is None:
            return JSONResponse({"detail": "starting"}, status_code=503)
        try:
            body = await request.json()
            params = {k: body[k] for k in ("text", "intents", "model") if k in body}
            named = body.get("connection")
        except (ValueError, TypeError, AttributeError):
            return JSONResponse({"detail": "a JSON object is expected"}, status_code=400)
        result, error = await service.answer_now(
            request.path_params["tenant_id"],
            "openai",
            str(named) if named else None,
            "classify",
            params,
        )
        return JSONResponse({"ok": error is None, "result": result, "error": error})

    routes = [
        Route(
            "/internal/tenants/{tenant_id}/connections/{connection_id}/check",
            check,
            methods=["POST"],
        ),
        Route("/internal/tenants/{tenant_id}/classify", classify, methods=["POST"]),
    ]
    service = Service(NAME, settings, partial(assemble, settings=settings, made=made))
    return service.starlette(routes)
