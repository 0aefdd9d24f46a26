"""The notifier: delivers messages to people and settles the waiting executions."""

from __future__ import annotations

import gc

from aiokafka import AIOKafkaProducer
from faststream.asgi import AsgiFastStream, make_ping_asgi
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from notifier.adapters.store import DeadLetterRepository, NotificationRepository, connect
from notifier.handlers.kafka import Wiring, build_router
from notifier.service import NotificationService
from notifier.settings import Settings
from notifier.telemetry import setup_tracing


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    settings = settings or Settings()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, acks="all", linger_ms=1)
    producers: list[AIOKafkaProducer] = []  # made in the event loop, at start-up
    wiring = Wiring()
    broker.include_router(
        build_router(
            settings.group_id,
            wiring,
            max_records=settings.batch_max_records,
            batch_timeout_ms=settings.batch_timeout_ms,
        )
    )
    app = AsgiFastStream(
        broker,
        asgi_routes=[
            ("/healthz", make_ping_asgi(broker, timeout=2.0, include_in_schema=False)),
            ("/metrics", make_asgi_app()),  # type: ignore[list-item]
        ],
    )

    @app.on_startup
    async def connect_stores() -> None:
        setup_tracing()
        _client, db = connect(settings.mongo_uri, settings.mongo_database)
        notifications = NotificationRepository(db)
        await notifications.ensure_indexes()

        # aiokafka's producer straight, not broker.publish: a third of the CPU per message,
        # and these services send many (every outbox entry).
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=1
        )
        await producer.start()
        producers.append(producer)

        async def publish(
            value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
        ) -> None:
            sent = await producer.send(
                topic, value, key=key, headers=[(k, v.encode()) for k, v in headers.items()]
            )
            await sent  # acknowledged by the broker (acks=all)

        wiring.publish = publish
        wiring.record_dead_letter = DeadLetterRepository(db).record
        wiring.attempts = settings.handling_attempts
        wiring.service = NotificationService(notifications, publish)

    @app.after_startup
    async def freeze_start_up_heap() -> None:
        """What start-up made lives as long as the process: out of the collector's sight, so
        a full collection only walks what batches make (the executor measured 100-200 ms for
        one over its start-up heap)."""
        gc.collect()
        gc.freeze()

    @app.after_shutdown
    async def stop_producer() -> None:
        for producer in producers:
            await producer.stop()

    return app
