"""What SendGrid's Event Webhook says about outbound emails, as the engine records it. Pure.

SendGrid posts a JSON array of events; each has ``event``, ``sg_event_id`` (unique: a retried
post repeats it), ``sg_message_id`` (the send's X-Message-Id, then ``.`` and a filter suffix),
``email``, ``timestamp`` and the send's ``custom_args`` flattened into it: the notifier's
(``CUSTOM_ARGS``) name our message. Statuses are ours: processed, deferred, delivered,
bounced, dropped (failures), opened, clicked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.conversations import MESSAGE_ID_PATTERN

PROVIDER = "sendgrid"
MESSAGE_ID_ARG = "cf_message_id"
TENANT_ARG = "cf_tenant_id"
"""The custom_args the notifier sends (notifier.domain.email)."""
STATUSES = {
    "processed": "processed",
    "deferred": "deferred",
    "delivered": "delivered",
    "bounce": "bounced",
    "dropped": "dropped",
    "open": "opened",
    "click": "clicked",
}
MAX_ID = 200
_MESSAGE_ID = re.compile(MESSAGE_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class EmailReport:
    event_id: str  # sendgrid:<sg_event_id>
    sg_event_id: str
    provider_message_id: str  # the X-Message-Id
    message_id: str | None
    status: str
    error_code: str | None
    error_message: str | None
    at: datetime


def tenant_named(events: Any) -> str | None:
    """The tenant the notifier named in the custom_args of the first event (checked by the
    signature after: a payload signed with that tenant's key is its)."""
    if isinstance(events, list) and events and isinstance(events[0], Mapping):
        tenant = events[0].get(TENANT_ARG)
        return tenant if isinstance(tenant, str) and tenant else None
    return None


def reports(events: list[Any], now: datetime) -> list[EmailReport]:
    """The events the engine records (other kinds, and events without SendGrid's ids, are
    left out)."""
    found: list[EmailReport] = []
    for e in events:
        if not isinstance(e, Mapping):
            continue
        status = STATUSES.get(str(e.get("event")))
        event_id, sg_message = e.get("sg_event_id"), e.get("sg_message_id")
        if status is None or not _id(event_id) or not _id(sg_message):
            continue
        named = e.get(MESSAGE_ID_ARG)
        error_code = error_message = None
        if status in ("bounced", "dropped", "deferred"):
            error_code = _text(e.get("status")) or _text(e.get("type"))
            error_message = _text(e.get("reason")) or _text(e.get("response"))
        found.append(
            EmailReport(
                event_id=f"{PROVIDER}:{event_id}",
                sg_event_id=str(event_id),
                provider_message_id=str(sg_message).split(".", 1)[0],
                message_id=named if isinstance(named, str) and _MESSAGE_ID.match(named) else None,
                status=status,
                error_code=error_code,
                error_message=error_message,
                at=_at(e.get("timestamp"), now),
            )
        )
    return found


def _id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID


def _text(value: Any) -> str | None:
    return str(value)[:500] if isinstance(value, str | int | float) and str(value) else None


def _at(timestamp: Any, now: datetime) -> datetime:
    if isinstance(timestamp, int | float) and 0 < timestamp < 1e11:
        return datetime.fromtimestamp(timestamp, UTC)
    return now
