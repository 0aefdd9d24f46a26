"""Perform an integration request once per idempotency key, then settle the execution's effect."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts import Envelope, topics
from contracts.events import EffectSettled, IntegrationRequested
from servicekit.publisher import Publish
from servicekit.telemetry import consuming, current_trace

from integrations.adapters.store import recorded_outcome
from integrations.domain.operations import (
    Connection,
    IntegrationCall,
    IntegrationError,
    echo,
    not_connected,
)
from integrations.telemetry import CALL_DURATION, CALLS, tracer

SOURCE = "/connectflo/integrations"
GROUP = "integrations"
Document = dict[str, Any]


class CallRecords(Protocol):
    async def start(self, doc: Document) -> Document | None: ...

    async def finish(
        self, key: str, status: str, result: Document | None, error: Document | None, at: Any
    ) -> None: ...


class Connections(Protocol):
    async def get(self, tenant_id: str, integration: str) -> Connection | None: ...


class Provider(Protocol):
    async def perform(
        self, connection: Connection, call: IntegrationCall, idempotency_key: str
    ) -> Document: ...


class IntegrationService:
    def __init__(
        self, calls: CallRecords, connections: Connections, http: Provider, publish: Publish
    ) -> None:
        self._calls = calls
        self._connections = connections
        self._http = http
        self._publish = publish

    async def on_integration_requested(self, envelope: Envelope[IntegrationRequested]) -> None:
        request = envelope.data
        with consuming(tracer, topics.INTEGRATION_REQUESTS, envelope, group=GROUP) as span:
            result, error = await self._call_once(request)
            span.set_attribute("connectflo.integration.outcome", error["type"] if error else "ok")
            event = EffectSettled.answering(request, result=result, error=error)
            out = Envelope.wrap(
                event,
                source=SOURCE,
                tenant_id=request.tenant_id,
                **current_trace(),
            )
            await self._publish(
                out.body(), topics.EXECUTION_COMMANDS, request.execution_id.encode(), out.headers()
            )

    async def _call_once(
        self, request: IntegrationRequested
    ) -> tuple[Document | None, Document | None]:
        """The call's outcome: recorded by an earlier attempt, else performed and recorded."""
        earlier = await self._calls.start(
            {
                "_id": request.idempotency_key,
                "tenant_id": request.tenant_id,
                "execution_id": request.execution_id,
                "node_id": request.node_id,
                "kind": request.kind,
                "status": "running",
                "started_at": datetime.now(UTC),
            }
        )
        if earlier is not None and earlier.get("status") != "running":
            return recorded_outcome(earlier)
        # New, or an attempt that died mid-call: perform (again). The provider sees the same
        # Idempotency-Key both times.
        result, error = await self._perform(request)
        await self._calls.finish(
            request.idempotency_key,
            "failed" if error else "succeeded",
            result,
            error,
            datetime.now(UTC),
        )
        return result, error

    async def _perform(
        self, request: IntegrationRequested
    ) -> tuple[Document | None, Document | None]:
        """(result, None) or (None, error). Infrastructure failures (MongoDB) raise: the
        message is then handled again, and dead-lettered if it keeps failing."""
        integration = request.kind
        started = time.perf_counter()
        try:
            call = IntegrationCall.of(request.kind, request.request)
            integration = call.integration
            connection = await self._connections.get(request.tenant_id, call.integration)
            if connection is None:
                raise not_connected(call)
            if connection.mode == "echo":
                result = echo(call)
            else:
                result = await self._http.perform(connection, call, request.idempotency_key)
        except IntegrationError as exc:
            CALLS.labels(integration, exc.error_type).inc()
            CALL_DURATION.labels(integration).observe(time.perf_counter() - started)
            return None, exc.as_error()
        CALLS.labels(integration, "ok").inc()
        CALL_DURATION.labels(integration).observe(time.perf_counter() - started)
        return result, None
