"""How conversations are stored, as every service that reads or writes them names them
(docs/architecture.md, *Conversations*): the keys of their documents, of the contact index and
of a customer's logged message, and the fields of their variables."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]+")


def conversation_ref(tenant_id: str, conversation_id: str) -> str:
    """The ``_id`` of a conversation in ``conversations``."""
    return f"{tenant_id}:{conversation_id}"


def address_ref(tenant_id: str, kind: str, address: str) -> str:
    """The ``_id`` of a contact's address in ``contact_addresses`` (phone, email, external_id;
    an email address in lower case)."""
    return f"{tenant_id}:{kind}:{address.strip().lower() if kind == 'email' else address.strip()}"


MESSAGE_ID_PATTERN = r"^msg_[0-9a-f]{24}$"
"""The shape of a logged message's ``_id``: ``msg_`` + 24 hex of a digest (an inbound message's
from its trigger, an outbound one's from its request's idempotency key)."""


def inbound_message_id(trigger_id: str) -> str:
    """The ``_id`` a customer's message is logged under in ``messages``: derived from its
    trigger's, so a redelivered trigger logs it once (and a webhook event names the same)."""
    return "msg_" + hashlib.sha256(trigger_id.encode()).hexdigest()[:24]


def variable_field(name: str) -> str:
    """The field of a variable under ``variables``: its name, percent-encoded unless plain
    (MongoDB refuses `.` and `$`, FerretDB blank and control characters)."""
    return name if PLAIN_NAME.fullmatch(name) else quote(name, safe="").replace(".", "%2E")


def decoded_variables(stored: dict[str, Any] | None) -> dict[str, Any]:
    """``variables`` of a stored document (each value JSON text), as a workflow reads them."""
    return {unquote(k): json.loads(v) for k, v in (stored or {}).items()}


def status_change(status: str, at: datetime) -> dict[str, Any]:
    """The update parts that set a conversation's status and log the change, for every writer
    (merged into an update's ``$set`` and ``$push``): SLA clocks pause and stop by this log.
    Writers log a change, not every write of the same status (FerretDB ignores ``$slice``, so
    the log is not trimmed)."""
    return {
        "$set": {"status": status, "status_at": at},
        "$push": {"status_log": {"status": status, "at": at}},
    }
