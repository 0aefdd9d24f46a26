"""The sandbox's environment (prefix SANDBOX_): read once at start, never deployed."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class SandboxSettings:
    """What the sandbox reads from its environment; the defaults suit `make up` and tests."""

    port: int = 8090
    # (AccountSid, AuthToken) pairs that exist from the start and survive a reset
    twilio_accounts: tuple[tuple[str, str], ...] = ()
    # Twilio API requests per second and account before 429 / 20429
    twilio_rps: float = 1000.0
    # between two steps of an outbound message's lifecycle (queued -> sent -> delivered)
    twilio_delivery_delay_ms: int = 20
    # a status callback answered 5xx or not at all is sent again this many times
    twilio_callback_retries: int = 3
    twilio_callback_backoff_ms: int = 100
    # Twilio waits 15 s for a webhook's answer
    twilio_webhook_timeout_s: float = 15.0
    # a call's <Pause length> and <Gather timeout> are played this many times as long
    twilio_pause_scale: float = 0.1
    twilio_gather_timeout_scale: float | None = None  # None: twilio_pause_scale
    # SendGrid: Mail Send requests per second and account before 429
    sendgrid_rps: float = 1000.0
    # a Mail Send body over this is 413 (SendGrid: 30 MB for the whole message)
    sendgrid_max_bytes: int = 30 * 1024 * 1024
    # between two steps of a mail's events (processed -> delivered ...)
    sendgrid_delivery_delay_ms: int = 20
    # an Event Webhook POST answered 5xx or not at all is sent again this many times
    sendgrid_webhook_retries: int = 3
    sendgrid_webhook_backoff_ms: int = 100
    sendgrid_webhook_timeout_s: float = 10.0
    # Stripe's requests are forwarded to stripe-mock (`/stripe/v1/...`)
    stripe_mock_url: str = "http://127.0.0.1:12111"

    @property
    def gather_timeout_scale(self) -> float:
        scale = self.twilio_gather_timeout_scale
        return self.twilio_pause_scale if scale is None else scale

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SandboxSettings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            port=int(env.get("SANDBOX_PORT", defaults.port)),
            twilio_accounts=parse_accounts(env.get("SANDBOX_TWILIO_ACCOUNTS", "")),
            twilio_rps=float(env.get("SANDBOX_TWILIO_RPS", defaults.twilio_rps)),
            twilio_delivery_delay_ms=int(
                env.get("SANDBOX_TWILIO_DELIVERY_DELAY_MS", defaults.twilio_delivery_delay_ms)
            ),
            twilio_callback_retries=int(
                env.get("SANDBOX_TWILIO_CALLBACK_RETRIES", defaults.twilio_callback_retries)
            ),
            twilio_callback_backoff_ms=int(
                env.get("SANDBOX_TWILIO_CALLBACK_BACKOFF_MS", defaults.twilio_callback_backoff_ms)
            ),
            twilio_webhook_timeout_s=float(
                env.get("SANDBOX_TWILIO_WEBHOOK_TIMEOUT_S", defaults.twilio_webhook_timeout_s)
            ),
            twilio_pause_scale=float(
                env.get("SANDBOX_TWILIO_PAUSE_SCALE", defaults.twilio_pause_scale)
            ),
            twilio_gather_timeout_scale=(
                float(gather_scale)
                if (gather_scale := env.get("SANDBOX_TWILIO_GATHER_TIMEOUT_SCALE"))
                else None
            ),
            sendgrid_rps=float(env.get("SANDBOX_SENDGRID_RPS", defaults.sendgrid_rps)),
            sendgrid_max_bytes=int(
                env.get("SANDBOX_SENDGRID_MAX_BYTES", defaults.sendgrid_max_bytes)
            ),
            sendgrid_delivery_delay_ms=int(
                env.get("SANDBOX_SENDGRID_DELIVERY_DELAY_MS", defaults.sendgrid_delivery_delay_ms)
            ),
            sendgrid_webhook_retries=int(
                env.get("SANDBOX_SENDGRID_WEBHOOK_RETRIES", defaults.sendgrid_webhook_retries)
            ),
            sendgrid_webhook_backoff_ms=int(
                env.get("SANDBOX_SENDGRID_WEBHOOK_BACKOFF_MS", defaults.sendgrid_webhook_backoff_ms)
            ),
            sendgrid_webhook_timeout_s=float(
                env.get("SANDBOX_SENDGRID_WEBHOOK_TIMEOUT_S", defaults.sendgrid_webhook_timeout_s)
            ),
            stripe_mock_url=env.get("STRIPE_MOCK_URL", defaults.stripe_mock_url).rstrip("/"),
        )


def parse_accounts(value: str) -> tuple[tuple[str, str], ...]:
    """ "AC...:token,AC...:token" -> ((sid, token), ...); ValueError naming a malformed entry."""
    accounts = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        sid, sep, token = entry.partition(":")
        if not sep or not ACCOUNT_SID.match(sid) or not token:
            raise ValueError(
                f"SANDBOX_TWILIO_ACCOUNTS: {sid[:40]!r} is not AC + 32 hex digits ':' auth token"
            )
        accounts.append((sid, token))
    return tuple(accounts)
