"""The integrations' consumer: integration requests in, one after the other (each a call to a
provider); offsets committed after the work (servicekit.consuming)."""

from __future__ import annotations

from contracts import Envelope, topics
from contracts.events import Event, IntegrationRequested
from servicekit.delivery import Consumed, Permanent
from servicekit.service import Kit

from integrations.service import IntegrationService


def consume(kit: Kit, service: IntegrationService) -> None:
    async def on_integration_requested(envelope: Envelope[Event], _: Consumed) -> None:
        if not isinstance(envelope.data, IntegrationRequested):
            raise Permanent(f"{envelope.type} is not an integration request")
        await service.on_integration_requested(envelope)  # type: ignore[arg-type]

    kit.consume(topics.INTEGRATION_REQUESTS, on_record=on_integration_requested)
