"""The conversation a channel's message belongs to, when the sender names none.

A conversation is keyed by (tenant, channel, contact address, tenant address): an SMS thread
between a customer's number and one of the tenant's numbers, a WhatsApp thread, and so on.
Its id is derived from those four, so every message of a thread gets the same id (and the
same Kafka partition: triggers are keyed by it) without a lookup, and two threads never share
one. Pure: no I/O."""

from __future__ import annotations

import hashlib
import json

PREFIX = "cnv_"


def conversation_id_for(
    tenant_id: str, channel: str, contact_address: str, tenant_address: str | None
) -> str:
    """``cnv_`` + the first 24 hex digits of SHA-256 over the four, JSON-encoded (so no two
    different tuples give the same text, whatever the addresses hold). Addresses as the
    channel normalised them: E.164 numbers without a `whatsapp:` prefix."""
    key = json.dumps([tenant_id, channel, contact_address, tenant_address or ""])
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()[:24]
