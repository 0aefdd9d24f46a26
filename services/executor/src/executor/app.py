"""The executor: consumers, HTTP routes, and their wiring to MongoDB and Kafka."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from faststream.asgi import AsgiFastStream, make_ping_asgi
from faststream.kafka import KafkaBroker
from prometheus_client import make_asgi_app

from executor.adapters.store import (
    DeadLetterRepository,
    ExecutionRepository,
    ReplyWaitRepository,
    WorkflowCatalog,
    connect,
    ensure_indexes,
    is_ferretdb,
)
from executor.handlers.http import validate_workflow
from executor.handlers.kafka import Wiring, build_router
from executor.runtime.service import ExecutionService
from executor.runtime.step import Limits
from executor.settings import Settings
from executor.telemetry import setup_tracing


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
            ("/v1/workflows/validate", validate_workflow),
        ],
    )

    @app.on_startup
    async def connect_stores() -> None:
        setup_tracing()
        client, db = connect(settings.mongo_uri, settings.mongo_database)
        await ensure_indexes(db)

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
        wiring.service = ExecutionService(
            WorkflowCatalog(db),
            ExecutionRepository(db, check_version_by_read=await is_ferretdb(db)),
            ReplyWaitRepository(db),
            publish,
            limits=Limits(
                max_steps=settings.max_steps_per_command,
                max_running_seconds=settings.max_running_seconds,
                max_waiting_seconds=settings.max_waiting_seconds,
                max_depth=settings.max_subworkflow_depth,
            ),
        )
        app.state_client = client  # type: ignore[attr-defined]

    @app.on_shutdown
    async def commit_what_was_handled() -> None:
        """Before the consumers stop: the flush in flight done, its offsets committed (else
        its records come again after a restart, changing nothing)."""
        for pipeline in wiring.pipelines.values():
            await pipeline.settle()

    @app.after_shutdown
    async def stop_producer() -> None:
        for producer in producers:
            await producer.stop()

    return app
