"""Contracts shared by every ConnectFlo service: events, requests, topics, the envelope and the
workflow definition as the builder saves it. The only code services share."""

from contracts.envelope import CE_SPECVERSION, Envelope, EnvelopeError
from contracts.events import EVENT_TYPES, Event, event_type_of

__all__ = ["CE_SPECVERSION", "EVENT_TYPES", "Envelope", "EnvelopeError", "Event", "event_type_of"]
