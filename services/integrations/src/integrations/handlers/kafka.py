"""The integrations' consumer: integration requests in, each in a task of its own (a call that
waits for its provider's rate limit holds up no other call: servicekit.concurrent), offsets
committed up to the oldest call not finished."""

from __future__ import annotations

from collections.abc import Callable

from contracts import Envelope, topics
from contracts.events import Event, IntegrationRequested
from servicekit.delivery import Consumed, Permanent
from servicekit.service import Kit

from integrations.service import IntegrationService


def consume(kit: Kit, service: IntegrationService, max_queued: int) -> None:
    async def on_integration_requested(
        envelope: Envelope[Event], _: Consumed, begun: Callable[[], None]
    ) -> None:
        if not isinstance(envelope.data, IntegrationRequested):
            raise Permanent(f"{envelope.type} is not an integration request")
        await service.on_integration_requested(envelope, begun)  # type: ignore[arg-type]

    kit.consume(topics.INTEGRATION_REQUESTS, concurrent=on_integration_requested, limit=max_queued)
