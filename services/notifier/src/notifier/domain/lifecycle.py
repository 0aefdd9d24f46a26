"""An outbound message's status: where each one is in the lifecycle, and what a batch of
provider reports changes on a message. Pure: no I/O.

Twilio's outbound lifecycle is accepted/scheduled (a Messaging Service) -> queued -> sending ->
sent -> delivered or undelivered (-> read, on WhatsApp), or failed (never sent); callbacks may
arrive out of order or more than once. A report moves ``status`` only forward: ``sent`` after
``delivered`` is kept in the history, not made the status; the first final status wins.
``pending`` is ours: recorded, not yet answered by the provider."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from notifier.domain.errors import DeliveryError, undelivered

PENDING = "pending"
FAILED_STATUSES = frozenset({"failed", "undelivered"})
_RANK = {
    PENDING: 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "read": 6,
}


def rank(status: str) -> int:
    """The place of ``status`` in the lifecycle (an unknown status is never a step forward)."""
    return _RANK.get(status, -1)


@dataclass(frozen=True, slots=True)
class Report:
    """One provider report on one message (Twilio's status callback)."""

    event_id: str
    status: str
    at: datetime
    error_code: str | None = None
    error_message: str | None = None

    def error(self) -> DeliveryError | None:
        if self.status not in FAILED_STATUSES:
            return None
        return undelivered(self.status, self.error_code, self.error_message)

    def history_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"status": self.status, "at": self.at, "event_id": self.event_id}
        if self.error_code is not None:
            entry["error_code"] = self.error_code
        if self.error_message is not None:
            entry["error_message"] = self.error_message
        return entry


@dataclass
class StatusChange:
    """What reports change on one message: history entries not recorded yet (by event id),
    the status when it moves forward, and the failure when the message has failed."""

    message_id: str
    new_entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: str | None = None
    error: DeliveryError | None = None
    failed: Report | None = None  # the report the message failed with (now or before)

    def __bool__(self) -> bool:
        return bool(self.new_entries or self.status)


def apply_reports(message: Mapping[str, Any], reports: Iterable[Report]) -> StatusChange:
    """What ``reports`` change on ``message`` (its ``status`` and ``status_events``, the event
    ids already recorded). A failure report is returned in ``failed`` also when it was
    recorded before (its announcement may not have gone out: it goes again)."""
    change = StatusChange(message["_id"])
    seen = set(message.get("status_events") or ())
    current = str(message.get("status") or PENDING)
    for report in reports:
        if report.event_id not in seen:
            seen.add(report.event_id)
            change.new_entries.append((report.event_id, report.history_entry()))
            if rank(report.status) > rank(current):
                current = change.status = report.status
                change.error = report.error()
        if report.status in FAILED_STATUSES and current == report.status:
            change.failed = report
    return change
