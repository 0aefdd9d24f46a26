"""What the sandbox's SendGrid holds, in memory: accounts (an API key, the Event Webhook's key
pair and URL, the Inbound Parse hosts), the mails sent with their events, the webhooks sent."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def now() -> datetime:
    return datetime.now(UTC)


def new_api_key() -> str:
    """SendGrid's shape: ``SG.`` + a 22-character id + ``.`` + a 43-character secret."""
    return f"SG.{secrets.token_urlsafe(16)[:22]}.{secrets.token_urlsafe(32)[:43]}"


@dataclass
class Account:
    account_id: str
    api_key: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    event_webhook_url: str = ""
    event_webhook_enabled: bool = True
    signed: bool = True  # the Signed Event Webhook is on
    parse_hosts: dict[str, str] = field(default_factory=dict)  # hostname -> parse URL
    rps: float | None = None

    @property
    def public_key(self) -> str:
        """As SendGrid shows it (Mail Settings, ``GET .../signed``): base64 of the DER
        SubjectPublicKeyInfo of the P-256 key."""
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()


@dataclass
class SentMail:
    """One accepted Mail Send request: its X-Message-Id, the request body as sent, and the
    events the sandbox reported about it."""

    message_id: str  # X-Message-Id
    account_id: str
    body: dict[str, Any]
    accepted_at: datetime = field(default_factory=now)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recipients(self) -> list[str]:
        found: list[str] = []
        for p in self.body.get("personalizations") or []:
            for kind in ("to", "cc", "bcc"):
                found += [str(a.get("email")) for a in p.get(kind) or []]
        return found

    def header(self, name: str) -> str | None:
        for key, value in (self.body.get("headers") or {}).items():
            if key.lower() == name.lower():
                return str(value)
        return None


@dataclass
class WebhookRecord:
    id: int
    kind: str  # event-webhook, inbound-parse
    url: str
    account_id: str
    message_id: str | None
    payload: Any
    headers: dict[str, str]
    attempt: int
    sent_at: datetime
    status: int | None = None
    body: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "url": self.url,
            "account_id": self.account_id,
            "message_id": self.message_id,
            "payload": self.payload,
            "headers": self.headers,
            "attempt": self.attempt,
            "sent_at": self.sent_at.isoformat(),
            "status": self.status,
            "body": self.body,
            "error": self.error,
        }


class SendGridState:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}  # by account id
        self.by_key: dict[str, Account] = {}
        self.mails: dict[str, SentMail] = {}
        self.webhooks: list[WebhookRecord] = []
        self._next_webhook = 0

    def add(self, account: Account) -> None:
        self.accounts[account.account_id] = account
        self.by_key[account.api_key] = account

    def next_webhook_id(self) -> int:
        self._next_webhook += 1
        return self._next_webhook

    def reset(self) -> None:
        self.accounts.clear()
        self.by_key.clear()
        self.mails.clear()
        self.webhooks.clear()
