"""Why an email was not delivered, as a type the workflow can route on. Pure: no I/O.

SendGrid answers a refused Mail Send with an HTTP status and ``{"errors": [{"message",
"field"}]}``: 401/403 AuthenticationFailed and 400/413 InvalidMessage (not retryable), 429
RateLimited (retryable; ``X-RateLimit-Reset`` says when), 5xx ProviderUnavailable. Its Event
Webhook reports a failure later: ``bounce`` (the receiving server refused: InvalidRecipient)
or ``dropped`` (SendGrid did not send: unsubscribed, bounced before, invalid)."""

from __future__ import annotations

from notifier.domain.errors import (
    AUTHENTICATION_FAILED,
    INVALID_MESSAGE,
    INVALID_RECIPIENT,
    PROVIDER_REFUSED,
    PROVIDER_UNAVAILABLE,
    RATE_LIMITED,
    RECIPIENT_UNSUBSCRIBED,
    UNDELIVERABLE,
    DeliveryError,
)

EMAIL_FAILED = frozenset({"bounced", "dropped"})
_UNSUBSCRIBED = ("unsubscribe", "spam reporting", "spam report")
_INVALID = ("bounced address", "invalid", "does not exist")


def sendgrid_refused(
    status: int, messages: list[str], retry_after_seconds: float | None = None
) -> DeliveryError:
    """SendGrid's answer to a Mail Send that failed: HTTP ``status``, its error messages."""
    if status in (401, 403):
        kind = AUTHENTICATION_FAILED
    elif status in (400, 413):
        kind = INVALID_MESSAGE
    elif status == 429:
        kind = RATE_LIMITED
    elif status >= 500:
        kind = PROVIDER_UNAVAILABLE
    else:
        kind = PROVIDER_REFUSED
    text = "; ".join(m for m in messages if m)[:1000] or f"HTTP {status}"
    retryable = kind in (RATE_LIMITED, PROVIDER_UNAVAILABLE)
    wait = retry_after_seconds if kind == RATE_LIMITED else None
    return DeliveryError(kind, text, retryable, None, status, wait)


def email_undelivered(status: str, code: str | None, reason: str | None) -> DeliveryError:
    """A ``bounced`` or ``dropped`` event: its SMTP status (``5.1.1``) and reason."""
    said = (reason or "").lower()
    if status == "bounced":
        kind = INVALID_RECIPIENT if (code or "").startswith("5") or not code else UNDELIVERABLE
    elif any(word in said for word in _UNSUBSCRIBED):
        kind = RECIPIENT_UNSUBSCRIBED
    elif any(word in said for word in _INVALID):
        kind = INVALID_RECIPIENT
    else:
        kind = UNDELIVERABLE
    text = reason or f"the provider reported the email {status}"
    return DeliveryError(kind, text, retryable=False)
