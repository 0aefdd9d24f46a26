"""An outbound message's status: where each one is in the lifecycle, and where a provider's
report stands against the message it names. Pure: no I/O.

Twilio's outbound lifecycle is accepted/scheduled (a Messaging Service) -> queued -> sending ->
sent -> delivered or undelivered (-> read, on WhatsApp), or failed (never sent); callbacks may
arrive out of order or more than once. A report moves ``status`` only forward: ``sent`` after
``delivered`` is kept in the history, not made the status; the first final status wins.
``pending`` is ours: recorded, not yet answered by the provider. An email (SendGrid) is
accepted (202) -> processed -> deferred -> delivered, bounced or dropped -> opened -> clicked.

A message's document has one writer at a time: the sending path until it has written the
provider's answer to the create (its notification record, ``NOTIFICATION``, is no longer
``pending``), the status consumer after that. FerretDB's updates rewrite the whole document
with no compare-and-set, so two writers at once could undo each other's change; a report about
a message whose send is not answered yet (the callback overtook the create's answer) waits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from notifier.domain.email_errors import EMAIL_FAILED, email_undelivered
from notifier.domain.errors import DeliveryError, undelivered

PENDING = "pending"
NOTIFICATION = "notification"
"""The field of an SMS or WhatsApp message that holds its notification record
(notifier.domain.delivery.logged): ``status`` pending, then sent or failed."""
FAILED_STATUSES = frozenset({"failed", "undelivered", *EMAIL_FAILED})
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
    # email (SendGrid's events, as the gateway names them)
    "processed": 2,
    "deferred": 3,
    "bounced": 5,
    "dropped": 5,
    "opened": 6,
    "clicked": 7,
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
        if self.status in EMAIL_FAILED:
            return email_undelivered(self.status, self.error_code, self.error_message)
        return undelivered(self.status, self.error_code, self.error_message)

    def history_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"status": self.status, "at": self.at, "event_id": self.event_id}
        if self.error_code is not None:
            entry["error_code"] = self.error_code
        if self.error_message is not None:
            entry["error_message"] = self.error_message
        return entry


@dataclass(frozen=True, slots=True)
class MessageReport:
    """A report as the gateway verified it: the tenant whose account signed it, the provider's
    id of the message, and ours (``message_id``) when the callback named it or once the
    message is found by the provider's id."""

    tenant_id: str
    provider: str
    provider_message_id: str
    report: Report
    message_id: str | None = None


class Standing(StrEnum):
    """Where a report stands against the message it names."""

    DUE = "due"  # to be recorded now
    RECORDED = "recorded"  # its event id is in the message's history
    UNANSWERED = "unanswered"  # the message's send is not answered yet: the report waits
    UNKNOWN = "unknown"  # no such message of this tenant and provider (or another sid)


def answered(message: Mapping[str, Any]) -> bool:
    """Whether the provider's answer to the send is written (a message logged before records
    were kept on messages has no record here: its answer is written)."""
    return (message.get(NOTIFICATION) or {}).get("status") != PENDING


def standing(message: Mapping[str, Any] | None, reported: MessageReport) -> Standing:
    """``message``: the document ``reported`` names (None: no such document)."""
    if (
        message is None
        or message.get("tenant_id") != reported.tenant_id
        or message.get("provider") != reported.provider
        or message.get("provider_message_id") not in (None, reported.provider_message_id)
    ):
        return Standing.UNKNOWN
    if reported.report.event_id in (message.get("status_events") or ()):
        return Standing.RECORDED
    if not answered(message):
        return Standing.UNANSWERED
    return Standing.DUE


def announces_failure(message: Mapping[str, Any], reported: MessageReport) -> bool:
    """Whether ``reported`` is the failure ``message`` ended with: a failure report recorded
    on it whose status is the message's (the first final status wins). Also when it was
    recorded before: its announcement may not have gone out, it goes again."""
    status = reported.report.status
    return (
        status in FAILED_STATUSES
        and message.get("status") == status
        and standing(message, reported) is Standing.RECORDED
    )


def ours_to_send(earlier: Mapping[str, object] | None, process: str) -> bool:
    """Whether ``process`` may send a delivery now: it is recorded for the first time, or
    recorded pending by this very process, which stopped before it sent (a record pending
    from another process may have reached the provider: it is not sent again)."""
    return earlier is None or (
        earlier.get("status") == PENDING and earlier.get("sending_process") == process
    )
