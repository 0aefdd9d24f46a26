"""Perform an integration request once per idempotency key, then settle the execution's effect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.events import EffectSettled, IntegrationRequested

from integrations.adapters.store import IntegrationCallRepository
from integrations.domain.operations import IntegrationError, perform

SOURCE = "/connectflo/integrations"
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]


class IntegrationService:
    def __init__(self, calls: IntegrationCallRepository, publish: Publish) -> None:
        self._calls = calls
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
            result, error = earlier.get("result"), earlier.get("error")
        else:
            result, error = self._perform(request)
            await self._calls.finish(
                request.idempotency_key,
                {
                    "status": "failed" if error else "succeeded",
                    "result": result,
                    "error": error,
                    "finished_at": datetime.now(UTC),
                },
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

    @staticmethod
    def _perform(
        request: IntegrationRequested,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        try:
            return perform(request.kind, request.request), None
        except IntegrationError as exc:
            return None, {"type": exc.error_type, "message": str(exc)}
