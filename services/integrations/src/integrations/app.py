"""The integrations: performs operations on systems of record for waiting executions."""

from __future__ import annotations

import httpx
from faststream.asgi import AsgiFastStream, make_ping_asgi
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from integrations.adapters.http_provider import HttpProvider
from integrations.adapters.store import (
    ConnectionRepository,
    DeadLetterRepository,
    IntegrationCallRepository,
    connect,
)
from integrations.handlers.kafka import Wiring, build_router
from integrations.service import IntegrationService
from integrations.settings import Settings
from integrations.telemetry import setup_tracing


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    settings = settings or Settings()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, acks="all", linger_ms=1)
    wiring = Wiring()
    broker.include_router(build_router(settings.group_id, wiring))
    app = AsgiFastStream(
        broker,
        asgi_routes=[
            ("/healthz", make_ping_asgi(broker, timeout=2.0, include_in_schema=False)),
            ("/metrics", make_asgi_app()),  # type: ignore[list-item]
        ],
    )
    http = httpx.AsyncClient(follow_redirects=False)

    @app.on_startup
    async def connect_stores() -> None:
        setup_tracing()
        _client, db = connect(settings.mongo_uri, settings.mongo_database)
        calls = IntegrationCallRepository(db)
        await calls.ensure_indexes()

        async def publish(
            value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
        ) -> None:
            await broker.publish(value, topic, key=key, headers=headers)

        wiring.publish = publish
        wiring.attempts = settings.handling_attempts
        wiring.record_dead_letter = DeadLetterRepository(db).record
        wiring.service = IntegrationService(
            calls,
            ConnectionRepository(db, settings.connection_cache_seconds),
            HttpProvider(http, settings.max_response_bytes),
            publish,
        )

    @app.after_shutdown
    async def close_http() -> None:
        await http.aclose()

    return app
