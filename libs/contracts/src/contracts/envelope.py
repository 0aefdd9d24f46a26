"""The Kafka envelope: CloudEvents 1.0 in binary mode.

Attributes travel as headers (``ce_id``, ``ce_type``, ``ce_source``, ``ce_specversion``,
``ce_time``) plus ``tenant_id`` and the W3C trace context (``traceparent``, ``tracestate``); the
value is the event's JSON.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Generic, TypedDict, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from contracts.events import Event, event_type_of

CE_SPECVERSION = "1.0"
E = TypeVar("E", bound=Event)


class TraceContext(TypedDict):
    """The W3C trace context an envelope carries (``Envelope.wrap(..., **trace)``)."""

    traceparent: str | None
    tracestate: str | None


NO_TRACE = TraceContext(traceparent=None, tracestate=None)


class EnvelopeError(ValueError):
    """A Kafka message that is not a valid envelope; the message says what is wrong."""


class Envelope(BaseModel, Generic[E]):
    """One message on Kafka: CloudEvents attributes plus the event itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    source: str
    time: datetime
    tenant_id: str
    traceparent: str | None = None
    tracestate: str | None = None
    data: E

    @property
    def trace(self) -> TraceContext:
        """The trace context this message continues."""
        return TraceContext(traceparent=self.traceparent, tracestate=self.tracestate)

    @property
    def type(self) -> str:
        """The CloudEvents type: the event's stable type name."""
        return self.data.event_type

    @classmethod
    def wrap(
        cls,
        data: E,
        *,
        source: str,
        tenant_id: str,
        traceparent: str | None = None,
        tracestate: str | None = None,
    ) -> Envelope[E]:
        """A new envelope with a fresh id and the current time."""
        # cls, not Envelope[E]: parameterising costs a cache lookup per message, and the
        # unparameterised model takes the event as it is (its bound, Event, admits it)
        return cls(
            id=str(uuid.uuid4()),
            source=source,
            time=datetime.now(UTC),
            tenant_id=tenant_id,
            traceparent=traceparent,
            tracestate=tracestate,
            data=data,
        )

    def headers(self) -> dict[str, str]:
        """Binary-mode headers for this envelope."""
        headers = {
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_specversion": CE_SPECVERSION,
            "ce_time": self.time.isoformat(),
            "tenant_id": self.tenant_id,
        }
        if self.traceparent:
            headers["traceparent"] = self.traceparent
            if self.tracestate:
                headers["tracestate"] = self.tracestate
        return headers

    def body(self) -> bytes:
        """The message value: the event's JSON."""
        return self.data.model_dump_json().encode()

    @classmethod
    def parse(
        cls, headers: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]], body: bytes
    ) -> Envelope[Event]:
        """Read an envelope from Kafka headers and value; EnvelopeError names what is wrong."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        h = {k: v.decode() if isinstance(v, bytes) else v for k, v in pairs}
        missing = [
            name
            for name in ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "tenant_id")
            if not h.get(name)
        ]
        if missing:
            raise EnvelopeError(f"missing header(s): {', '.join(missing)}")
        if h["ce_specversion"] != CE_SPECVERSION:
            raise EnvelopeError(f"unsupported ce_specversion {h['ce_specversion']!r}")
        try:
            model = event_type_of(h["ce_type"])
        except KeyError as exc:
            raise EnvelopeError(str(exc)) from None
        try:
            data = model.model_validate_json(body)
            return _ENVELOPE_OF_EVENT(
                id=h["ce_id"],
                source=h["ce_source"],
                time=datetime.fromisoformat(h["ce_time"]),
                tenant_id=h["tenant_id"],
                traceparent=h.get("traceparent"),
                tracestate=h.get("tracestate") or None,
                data=data,
            )
        except (ValidationError, ValueError) as exc:
            raise EnvelopeError(f"invalid {h['ce_type']}: {exc}") from None


_ENVELOPE_OF_EVENT = Envelope[Event]
