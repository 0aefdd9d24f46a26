"""Twilio's error codes as the types a workflow routes on, and whether to try again."""

from __future__ import annotations

import pytest
from notifier.domain.errors import refused, undelivered, unreachable


@pytest.mark.parametrize(
    ("status", "code", "kind", "retryable"),
    [
        (400, 21211, "InvalidRecipient", False),
        (400, 21614, "InvalidRecipient", False),
        (400, 21612, "InvalidRecipient", False),
        (400, 21610, "RecipientUnsubscribed", False),
        (401, 20003, "AuthenticationFailed", False),
        (400, 21606, "NotPermitted", False),
        (400, 21408, "NotPermitted", False),
        (400, 21660, "NotPermitted", False),
        (400, 21617, "InvalidMessage", False),
        (429, 20429, "RateLimited", True),
        (429, None, "RateLimited", True),
        (500, None, "ProviderUnavailable", True),
        (503, 20503, "ProviderUnavailable", True),
        (403, None, "AuthenticationFailed", False),
        (400, 99999, "ProviderRefused", False),
    ],
)
def test_a_refused_create(status: int, code: int | None, kind: str, retryable: bool) -> None:
    error = refused(status, code, "Twilio's words")
    assert (error.type, error.retryable) == (kind, retryable)
    assert error.on_message() == {
        "type": kind,
        "code": code,
        "message": "Twilio's words",
        "retryable": retryable,
    }
    answer = error.for_workflow()
    assert "code" not in answer and answer["http_status"] == status
    assert answer.get("provider_code") == code


def test_no_answer_is_worth_another_attempt() -> None:
    error = unreachable("Twilio did not answer within 10s")
    assert (error.type, error.retryable, error.code) == ("ProviderUnavailable", True, None)


@pytest.mark.parametrize(
    ("code", "kind", "retryable", "meaning"),
    [
        ("30003", "RecipientUnreachable", True, "Unreachable destination handset"),
        ("30005", "InvalidRecipient", False, "Unknown destination handset"),
        ("30006", "InvalidRecipient", False, "Landline or unreachable carrier"),
        ("30007", "MessageFiltered", False, "Message filtered"),
        ("30008", "Undeliverable", True, "Unknown error"),
        ("30034", "NotPermitted", False, "Message from an unregistered number"),
    ],
)
def test_a_delivery_failure(code: str, kind: str, retryable: bool, meaning: str) -> None:
    error = undelivered("undelivered", code, None)
    assert (error.type, error.retryable, error.code, error.message) == (
        kind,
        retryable,
        int(code),
        meaning,
    )


def test_a_delivery_failure_without_a_known_code_says_what_was_reported() -> None:
    assert undelivered("failed", None, None).message == "the provider reported the message failed"
    assert undelivered("failed", "12345", "carrier said no").message == "carrier said no"
    assert undelivered("failed", "x", None).code is None
