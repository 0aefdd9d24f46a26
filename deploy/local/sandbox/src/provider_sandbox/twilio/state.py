"""What the sandbox's Twilio holds, in memory: accounts, numbers, messages, calls, the webhooks
sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WHATSAPP = "whatsapp:"


def now() -> datetime:
    return datetime.now(UTC)


def bare_address(address: str) -> str:
    """`whatsapp:+14155550100` -> `+14155550100`: one registered number serves both channels."""
    return address.removeprefix(WHATSAPP)


@dataclass
class Account:
    sid: str
    auth_token: str
    seeded: bool = False  # from SANDBOX_TWILIO_ACCOUNTS: kept by a reset
    rps: float | None = None  # overrides SANDBOX_TWILIO_RPS for this account
    friendly_name: str = ""
    date_created: datetime = field(default_factory=now)


@dataclass
class ApiKey:
    sid: str
    secret: str
    account_sid: str
    friendly_name: str
    date_created: datetime = field(default_factory=now)


@dataclass
class PhoneNumber:
    """An IncomingPhoneNumber: where Twilio sends what arrives at it (SMS, WhatsApp, calls)."""

    sid: str
    account_sid: str
    phone_number: str
    friendly_name: str
    sms_url: str = ""
    sms_method: str = "POST"
    sms_fallback_url: str = ""
    sms_fallback_method: str = "POST"
    status_callback: str = ""
    status_callback_method: str = "POST"
    voice_url: str = ""
    voice_method: str = "POST"
    voice_fallback_url: str = ""
    voice_fallback_method: str = "POST"
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)


@dataclass
class MessagingService:
    sid: str
    account_sid: str
    friendly_name: str
    inbound_request_url: str = ""
    inbound_method: str = "POST"
    fallback_url: str = ""
    fallback_method: str = "POST"
    status_callback: str = ""
    use_inbound_webhook_on_number: bool = False
    phone_number_sids: list[str] = field(default_factory=list)
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)


@dataclass
class WebhookRecord:
    """One HTTP request the sandbox sent as Twilio, and what it got back."""

    id: int
    # incoming-message, incoming-message-fallback, status-callback; a call's: incoming-call,
    # incoming-call-fallback, redirect, gather-action, call-status-callback
    kind: str
    message_sid: str | None
    url: str
    method: str
    params: dict[str, str]
    signature: str | None
    idempotency_token: str
    attempt: int
    sent_at: datetime
    status: int | None = None
    content_type: str | None = None
    body: str | None = None
    error: str | None = None
    call_sid: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "message_sid": self.message_sid,
            "call_sid": self.call_sid,
            "url": self.url,
            "method": self.method,
            "params": self.params,
            "signature": self.signature,
            "idempotency_token": self.idempotency_token,
            "attempt": self.attempt,
            "sent_at": self.sent_at.isoformat(),
            "response": None
            if self.status is None
            else {"status": self.status, "content_type": self.content_type, "body": self.body},
            "error": self.error,
        }


@dataclass
class StatusChange:
    status: str
    at: datetime


@dataclass
class Message:
    sid: str
    account_sid: str
    direction: str  # inbound, outbound-api, outbound-reply
    from_: str
    to: str
    body: str
    media_urls: list[str]
    status: str
    num_segments: int
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    date_sent: datetime | None = None
    history: list[StatusChange] = field(default_factory=list)
    # an incoming message's webhook parameters, resent as they were by a replay
    webhook_params: dict[str, str] | None = None

    def move_to(self, status: str) -> None:
        self.status = status
        self.date_updated = now()
        self.history.append(StatusChange(status, self.date_updated))


@dataclass
class Call:
    """A phone call to one of the numbers, as the sandbox plays it. `state` is the sandbox's
    (ringing, in-progress, at_gather, completed, failed); `call_status` what Twilio reports."""

    sid: str
    account_sid: str
    from_: str
    to: str
    phone_number_sid: str
    status_callback: str
    status_callback_method: str
    state: str = "ringing"
    # every verb played, in order, with its attributes (the caller's answers on its Gather)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    # why it ended: caller, hangup, handed-over, end-of-twiml, application-error, api
    ended_by: str | None = None
    error: dict[str, Any] | None = None  # {code, message, url} of an application error
    date_created: datetime = field(default_factory=now)
    date_updated: datetime = field(default_factory=now)
    end_time: datetime | None = None

    @property
    def ended(self) -> bool:
        return self.state in ("completed", "failed")

    @property
    def call_status(self) -> str:
        """Twilio's CallStatus: a call that met an application error was answered (the caller
        heard Twilio's apology), so it too is `completed`."""
        if self.ended:
            return "completed"
        return "ringing" if self.state == "ringing" else "in-progress"

    @property
    def duration_s(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.date_created).total_seconds()

    def move_to(self, state: str) -> None:
        self.state = state
        self.date_updated = now()
        if self.ended and self.end_time is None:
            self.end_time = self.date_updated


class TwilioState:
    """The whole in-memory Twilio of the sandbox; `reset` keeps the env-seeded accounts."""

    def __init__(self, seeded_accounts: tuple[tuple[str, str], ...] = ()) -> None:
        self._seed = seeded_accounts
        self.accounts: dict[str, Account] = {}
        self.api_keys: dict[str, ApiKey] = {}
        self.numbers: dict[str, PhoneNumber] = {}
        self.services: dict[str, MessagingService] = {}
        self.messages: dict[str, Message] = {}
        self.calls: dict[str, Call] = {}
        self.webhooks: list[WebhookRecord] = []
        # (sender, recipient) pairs where the recipient answered STOP, until START
        self.opt_outs: set[tuple[str, str]] = set()
        self.reset()

    def reset(self) -> None:
        self.accounts = {sid: Account(sid, token, seeded=True) for sid, token in self._seed}
        self.api_keys.clear()
        self.numbers.clear()
        self.services.clear()
        self.messages.clear()
        self.calls.clear()
        self.webhooks.clear()
        self.opt_outs.clear()

    def number_for(self, address: str) -> PhoneNumber | None:
        """The IncomingPhoneNumber an address (E.164, or whatsapp:E.164) belongs to."""
        wanted = bare_address(address)
        return next((n for n in self.numbers.values() if n.phone_number == wanted), None)

    def service_of(self, number: PhoneNumber) -> MessagingService | None:
        return next((s for s in self.services.values() if number.sid in s.phone_number_sids), None)

    def next_webhook_id(self) -> int:
        return len(self.webhooks) + 1
