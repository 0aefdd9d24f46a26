"""The scheduler: durable timers for waits, retries and deadlines."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta

from faststream.asgi import AsgiFastStream, make_ping_asgi
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from scheduler.adapters.store import DeadLetterRepository, TimerRepository, connect
from scheduler.handlers.kafka import Wiring, build_router
from scheduler.service import TimerService
from scheduler.settings import Settings
from scheduler.telemetry import setup_tracing


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    settings = settings or Settings()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, acks="all", linger_ms=1)
    wiring = Wiring()
    broker.include_router(build_router(settings.group_id, wiring))
    app = AsgiFastStream(
        broker,
        asgi_routes=[
            ("/healthz", make_ping_asgi(broker, timeout=2.0, include_in_schema=False)),
            ("/metrics", make_asgi_app()),
        ],
    )
    tasks: list[asyncio.Task[None]] = []

    @app.on_startup
    async def connect_stores() -> None:
        setup_tracing()
        _client, db = connect(settings.mongo_uri, settings.mongo_database)
        timers = TimerRepository(db)
        await timers.ensure_indexes()

        async def publish(
            value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
        ) -> None:
            await broker.publish(value, topic, key=key, headers=headers)

        wiring.publish = publish
        wiring.record_dead_letter = DeadLetterRepository(db).record
        wiring.attempts = settings.handling_attempts
        wiring.service = TimerService(
            timers,
            publish,
            owner=f"{socket.gethostname()}:{os.getpid()}",
            page_size=settings.page_size,
            longest_sleep=settings.longest_sleep_seconds,
            retention=timedelta(hours=settings.settled_retention_hours),
        )

    @app.after_startup
    async def start_firing() -> None:
        tasks.append(asyncio.create_task(wiring.service.run()))

    @app.on_shutdown
    async def stop_firing() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    return app
