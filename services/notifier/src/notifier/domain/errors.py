"""Why a message was not delivered, as a type the workflow can route on.

Twilio answers a refused create with an error code (its REST API: 21211, 21610, 20003, ...) and
reports a delivery that failed later with another (its status callback's ErrorCode: 30003,
30005, ...). Both become a ``DeliveryError`` with a stable ``type`` and whether trying again
can help (``retryable``): a number that is invalid stays invalid, a rate limit or an outage
passes. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INVALID_RECIPIENT = "InvalidRecipient"
RECIPIENT_UNSUBSCRIBED = "RecipientUnsubscribed"
RECIPIENT_UNREACHABLE = "RecipientUnreachable"
NOT_PERMITTED = "NotPermitted"
AUTHENTICATION_FAILED = "AuthenticationFailed"
INVALID_MESSAGE = "InvalidMessage"
MESSAGE_FILTERED = "MessageFiltered"
RATE_LIMITED = "RateLimited"
PROVIDER_UNAVAILABLE = "ProviderUnavailable"
PROVIDER_REFUSED = "ProviderRefused"
UNDELIVERABLE = "Undeliverable"
CHANNEL_NOT_CONNECTED = "ChannelNotConnected"
ADDRESS_UNKNOWN = "AddressUnknown"
CREDENTIALS_UNAVAILABLE = "CredentialsUnavailable"
DELIVERY_INTERRUPTED = "DeliveryInterrupted"

NOT_RETRYABLE = frozenset(
    {
        INVALID_RECIPIENT,
        RECIPIENT_UNSUBSCRIBED,
        NOT_PERMITTED,
        AUTHENTICATION_FAILED,
        INVALID_MESSAGE,
        MESSAGE_FILTERED,
        PROVIDER_REFUSED,
        UNDELIVERABLE,
        CHANNEL_NOT_CONNECTED,
        ADDRESS_UNKNOWN,
        CREDENTIALS_UNAVAILABLE,
        DELIVERY_INTERRUPTED,
    }
)


@dataclass(frozen=True, slots=True)
class DeliveryError:
    """A message not delivered: its type, what the provider said, whether to try again."""

    type: str
    message: str
    retryable: bool
    code: int | str | None = None  # the provider's error code (Slack's are words)
    http_status: int | None = None
    retry_after_seconds: float | None = None  # the provider's Retry-After, when it gave one

    def on_message(self) -> dict[str, Any]:
        """As the message log and the conversation show it."""
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }

    def for_workflow(self) -> dict[str, Any]:
        """As an EffectSettled error. No ``code`` key: the engine takes an error's ``code``
        before its ``type`` as what retry policies and error edges match, and the type is
        what a workflow routes on; the provider's code is ``provider_code``."""
        answer: dict[str, Any] = {
            "type": self.type,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.code is not None:
            answer["provider_code"] = self.code
        if self.http_status is not None:
            answer["http_status"] = self.http_status
        if self.retry_after_seconds is not None:
            answer["retry_after_seconds"] = self.retry_after_seconds
        return answer


def failure(type_: str, message: str) -> DeliveryError:
    """One of the notifier's own refusals (nothing reached a provider)."""
    return DeliveryError(type_, message, retryable=type_ not in NOT_RETRYABLE)


def interruption(doing: str, done: str) -> DeliveryError:
    """A redelivered request whose send another process started and did not finish: it is
    not done again (the provider takes no idempotency key), but answered as interrupted."""
    return failure(
        DELIVERY_INTERRUPTED,
        f"the notifier stopped while {doing}: it may or may not have been {done}, "
        f"and is not {done} again",
    )


# Twilio REST API errors when a message is created (https://www.twilio.com/docs/api/errors).
_REFUSALS: dict[int, str] = {
    21211: INVALID_RECIPIENT,  # invalid 'To' phone number
    21217: INVALID_RECIPIENT,  # phone number does not appear to be valid
    21401: INVALID_RECIPIENT,  # invalid phone number
    21604: INVALID_RECIPIENT,  # 'To' phone number is required
    21612: INVALID_RECIPIENT,  # 'To' not currently reachable via SMS
    21614: INVALID_RECIPIENT,  # 'To' is not a valid mobile number
    63024: INVALID_RECIPIENT,  # invalid message recipient (WhatsApp)
    21610: RECIPIENT_UNSUBSCRIBED,  # the recipient replied STOP
    20003: AUTHENTICATION_FAILED,  # permission denied: the account's credentials
    20005: NOT_PERMITTED,  # account not active
    21212: NOT_PERMITTED,  # invalid 'From' number
    21408: NOT_PERMITTED,  # region not enabled for SMS
    21603: NOT_PERMITTED,  # 'From' is required
    21606: NOT_PERMITTED,  # 'From' is not a message-capable number of this account
    21608: NOT_PERMITTED,  # unverified number (trial account)
    21659: NOT_PERMITTED,  # 'From' is not a Twilio number
    21660: NOT_PERMITTED,  # 'From' belongs to another account
    21910: NOT_PERMITTED,  # From and To of different channels
    63007: NOT_PERMITTED,  # no WhatsApp sender for 'From'
    21602: INVALID_MESSAGE,  # body required
    21609: INVALID_MESSAGE,  # invalid StatusCallback URL
    21617: INVALID_MESSAGE,  # body over 1,600 characters
    21619: INVALID_MESSAGE,  # a body or media is required
    21620: INVALID_MESSAGE,  # invalid media URL
    21623: INVALID_MESSAGE,  # more than 10 media
    20429: RATE_LIMITED,
}

# Twilio's delivery errors, in a status callback of a failed or undelivered message.
_DELIVERY: dict[int, tuple[str, bool, str]] = {
    30001: (PROVIDER_UNAVAILABLE, True, "Queue overflow"),
    30002: (NOT_PERMITTED, False, "Account suspended"),
    30003: (RECIPIENT_UNREACHABLE, True, "Unreachable destination handset"),
    30004: (NOT_PERMITTED, False, "Message blocked"),
    30005: (INVALID_RECIPIENT, False, "Unknown destination handset"),
    30006: (INVALID_RECIPIENT, False, "Landline or unreachable carrier"),
    30007: (MESSAGE_FILTERED, False, "Message filtered"),
    30008: (UNDELIVERABLE, True, "Unknown error"),
    30009: (UNDELIVERABLE, True, "Missing segment"),
    30010: (NOT_PERMITTED, False, "Message price exceeds max price"),
    30034: (NOT_PERMITTED, False, "Message from an unregistered number"),
    63016: (NOT_PERMITTED, False, "Outside the WhatsApp customer service window"),
}


def refused(status: int, code: int | None, message: str) -> DeliveryError:
    """Twilio's answer to a create that failed: HTTP ``status`` and its error ``code``."""
    kind = _REFUSALS.get(code) if code is not None else None
    if kind is None:
        if status == 429:
            kind = RATE_LIMITED
        elif status >= 500:
            kind = PROVIDER_UNAVAILABLE
        elif status in (401, 403):
            kind = AUTHENTICATION_FAILED
        else:
            kind = PROVIDER_REFUSED
    retryable = kind in (RATE_LIMITED, PROVIDER_UNAVAILABLE)
    return DeliveryError(kind, message or f"HTTP {status}", retryable, code, status)


def unreachable(reason: str) -> DeliveryError:
    """No answer from the provider: a connection error or a timeout."""
    return DeliveryError(PROVIDER_UNAVAILABLE, reason, retryable=True)


def undelivered(status: str, code: str | None, message: str | None) -> DeliveryError:
    """A status callback's failed or undelivered, with its ErrorCode and ErrorMessage."""
    number = int(code) if code is not None and code.isdigit() else None
    known = _DELIVERY.get(number) if number is not None else None
    kind, retryable, meaning = known or (UNDELIVERABLE, False, "")
    text = message or meaning or f"the provider reported the message {status}"
    return DeliveryError(kind, text, retryable, number)
