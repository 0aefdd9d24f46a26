"""A service process assembled from the kit: settings, MongoDB, the publisher, the consumers,
background tasks, the HTTP routes, health and readiness, and the start-up and shutdown order.

A service gives its name, its settings and ``assemble(kit)``, which builds its domain on what
the kit has connected (``kit.db``, ``kit.publish``) and declares its consumers
(``kit.consume(topic, ...)``), background tasks and what to close at shutdown::

    service = Service("notifier", settings, assemble)
    app = service.starlette()    # or FastAPI(lifespan=service.lifespan) + service.routes()
    serve(app, settings, "notifier")     # in __main__.py
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit import metrics, telemetry
from servicekit.consumer import TopicConsumer
from servicekit.consuming import Consuming, KafkaConsumerFactory
from servicekit.health import Check, health_endpoint, ready_endpoint
from servicekit.mongo import Database, DeadLetterRepository, Mongo
from servicekit.problems import STARLETTE_HANDLERS
from servicekit.publisher import Publish, Publisher
from servicekit.settings import ServiceSettings


class Storage(Protocol):
    """What a service uses of servicekit.mongo.Mongo."""

    @property
    def db(self) -> Database: ...
    async def reachable(self) -> bool: ...
    async def is_ferretdb(self) -> bool: ...
    async def pushes_down_fields(self, collection: str) -> bool: ...
    async def close(self) -> None: ...


class Publishing(Protocol):
    """What a service uses of servicekit.publisher.Publisher."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(
        self, value: bytes, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None: ...
    async def reachable(self) -> bool: ...


class Kit:
    """What a running service has: given to its ``assemble``, kept on ``app.state.kit``."""

    def __init__(
        self,
        name: str,
        settings: ServiceSettings,
        *,
        mongo: Storage | None = None,
        publisher: Publishing | None = None,
        kafka_consumer: KafkaConsumerFactory | None = None,
    ) -> None:
        """``mongo``, ``publisher``, ``kafka_consumer``: used instead of connecting to MongoDB
        and Kafka (tests: servicekit.testing's in-memory broker)."""
        self.name = name
        self.settings = settings
        self.mongo: Storage = mongo or Mongo.connect(
            settings.mongo_uri,
            settings.mongo_database,
            timeout_seconds=settings.mongo_timeout_seconds,
            max_pool_size=settings.mongo_max_pool_size,
        )
        self.publisher: Publishing = publisher or Publisher(
            settings.kafka_bootstrap_servers, timeout_seconds=settings.publish_timeout_seconds
        )
        self.dead_letters = DeadLetterRepository(self.mongo.db)
        self.consumers: list[TopicConsumer] = []
        self.checks: dict[str, Check] = {
            "mongodb": self.mongo.reachable,
            "kafka": self.publisher.reachable,
        }
        self._consuming = Consuming(
            name=name,
            group_id=settings.group_id,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            publish=self.publisher.publish,
            record_dead_letter=self.dead_letters.record,
            attempts=settings.handling_attempts,
            max_records=settings.batch_max_records,
            kafka_consumer=kafka_consumer,
        )
        self._background: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []

    @property
    def db(self) -> Database:
        return self.mongo.db

    @property
    def publish(self) -> Publish:
        """publish(value, topic, key, headers)"""
        return self.publisher.publish

    def consume(self, topic: str, **handling: Any) -> TopicConsumer:
        """Consume ``topic`` in this service's group (servicekit.consuming.Consuming.consumer
        says how records are handled); started after ``assemble``."""
        consumer = self._consuming.consumer(topic, **handling)
        self.consumers.append(consumer)
        return consumer

    def background(self, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """A task that runs while the service does (started after the consumers)."""
        self._background.append(run)

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Called at shutdown, after the consumers stopped, before Kafka and MongoDB close."""
        self._closers.append(close)

    def alive(self) -> bool:
        return all(c.running for c in self.consumers) and not any(t.done() for t in self._tasks)

    def readiness(self) -> dict[str, Check]:
        checks = dict(self.checks)
        for consumer in self.consumers:
            checks[f"consumer {consumer.topic}"] = _joined(consumer)
        return checks

    async def start(self) -> None:
        await self.publisher.start()
        for consumer in self.consumers:
            await consumer.start()
        self._tasks = [asyncio.create_task(run(), name=run.__name__) for run in self._background]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # the batches in flight finished and committed, then the consumers leave the group
        # (what was not committed comes again after a restart, changing nothing)
        for consumer in self.consumers:
            await consumer.stop()
        for close in reversed(self._closers):
            await close()
        await self.publisher.stop()
        await self.mongo.close()
        telemetry.shutdown_tracing()


def _joined(consumer: TopicConsumer) -> Check:
    async def check() -> bool:
        return consumer.running and consumer.joined

    return check


Assemble = Callable[[Kit], Awaitable[None]]


class Service:
    def __init__(self, name: str, settings: ServiceSettings, assemble: Assemble) -> None:
        self.name = name
        self.settings = settings
        self._assemble = assemble

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        telemetry.setup_tracing(self.name)
        kit = Kit(self.name, self.settings)
        app.state.kit = kit
        try:
            await self._assemble(kit)
            await kit.start()
            # What start-up made lives as long as the process: out of the collector's sight,
            # so a full collection only walks what batches and requests make.
            gc.collect()
            gc.freeze()
            yield
        finally:
            await kit.stop()

    def routes(self) -> list[BaseRoute]:
        """/healthz, /readyz and /metrics."""

        def kit_of(request: Request) -> Kit | None:
            """None until the lifespan has made it (start-up not done)."""
            return getattr(request.app.state, "kit", None)

        async def healthz(request: Request) -> Response:
            kit = kit_of(request)
            return await health_endpoint(kit.alive if kit else _starting)(request)

        async def readyz(request: Request) -> Response:
            kit = kit_of(request)
            return await ready_endpoint(kit.readiness if kit else _not_started)(request)

        return [
            Route("/healthz", healthz, include_in_schema=False),
            Route("/readyz", readyz, include_in_schema=False),
            Route("/metrics", metrics_endpoint, include_in_schema=False),
        ]

    def starlette(self, routes: Sequence[BaseRoute] = ()) -> Starlette:
        """The service's app: its routes, health, readiness and metrics, and the lifespan."""
        return Starlette(
            routes=[*self.routes(), *routes],
            lifespan=self.lifespan,
            exception_handlers=STARLETTE_HANDLERS,  # 404, 405, 500 as problems
        )


def _starting() -> bool:
    return False


def _not_started() -> dict[str, Check]:
    async def started() -> bool:
        return False

    return {"started": started}


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class HttpMetrics:
    """Counts and times every HTTP request by route template (never the raw path: one series
    per route), method and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # labels() costs a lock and a lookup per call: the series of each route, method and
        # status are looked up once
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or scope.get(ROUTE_KEY) or "unmatched"
            key = (template, scope["method"], status)
            series = self._series.get(key)
            if series is None:
                series = self._series[key] = (
                    metrics.HTTP_REQUESTS.labels(template, scope["method"], str(status)),
                    metrics.HTTP_DURATION.labels(template),
                )
            series[0].inc()
            series[1].observe(time.perf_counter() - started)


ROUTE_KEY = "connectflo.route"
"""Where an ASGI app that routes by itself (the gateway's trigger fast lane) names the route."""
