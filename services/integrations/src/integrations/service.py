"""Perform an integration request once per idempotency key, then settle the execution's effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from contracts import Envelope, topics
from contracts.events import EffectSettled, IntegrationRequested
from prometheus_client import Counter

from integrations.adapters.store import recorded_outcome
from integrations.domain.operations import (
    Connection,
    IntegrationCall,
    IntegrationError,
    echo,
    not_connected,
)
from integrations.telemetry import context_from, tracer

SOURCE = "/connectflo/integrations"
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]
Document = dict[str, Any]

CALLS = Counter(
    "connectflo_integration_calls_total",
    "Integration requests answered, by integration and outcome (ok or the error type).",
    ["integration", "outcome"],
)


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
            result, error = recorded_outcome(earlier)
        else:
            # New, or an attempt that died mid-call: perform (again). The provider sees the
            # same Idempotency-Key both times.
            with tracer.start_as_current_span(
                f"integration {request.kind}",
                context=context_from(envelope.traceparent),
                attributes={"execution.id": request.execution_id, "node.id": request.node_id},
            ) as span:
                result, error = await self._perform(request)
                span.set_attribute("integration.outcome", error["type"] if error else "ok")
            await self._calls.finish(
                request.idempotency_key,
                "failed" if error else "succeeded",
                result,
                error,
                datetime.now(UTC),
            )
        event = EffectSettled(
            command_id="settle:" + request.idempotency_key,
            execution_id=request.execution_id,
            tenant_id=request.tenant_id,
            effect_id=request.effect_id,
            idempotency_key=request.idempotency_key,
            result=result,
            error=error,
        )
        out = Envelope.wrap(
            event, source=SOURCE, tenant_id=request.tenant_id, traceparent=envelope.traceparent
        )
        await self._publish(
            out.body(), topics.EXECUTION_COMMANDS, request.execution_id.encode(), out.headers()
        )

    async def _perform(
        self, request: IntegrationRequested
    ) -> tuple[Document | None, Document | None]:
        """(result, None) or (None, error). Infrastructure failures (MongoDB) raise: the
        message is then handled again, and dead-lettered if it keeps failing."""
        integration = request.kind
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
            return None, exc.as_error()
        CALLS.labels(integration, "ok").inc()
        return result, None
