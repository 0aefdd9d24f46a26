"""What a Slack or Teams node asks, and the providers' refusals as typed errors."""

from datetime import UTC, datetime

import pytest
from contracts.events import NotificationRequested
from notifier.domain.chatops import (
    SlackPost,
    TeamsPost,
    adaptive_card,
    plan_post,
    post_of,
    slack_refused,
    teams_refused,
)
from notifier.domain.errors import DeliveryError


def node(kind: str, **params: object) -> NotificationRequested:
    return NotificationRequested(
        idempotency_key="exe_1:n:1",
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id="n:1",
        node_id="n",
        kind=kind,
        channel="chat",
        request={"integration": kind.split(".")[1], "action": "postMessage", "params": params},
    )


def test_a_slack_node_is_a_post_to_its_channel_with_blocks_and_thread() -> None:
    post = post_of(
        node(
            "integration.slack",
            channel="#support",
            text="New ticket",
            blocks='[{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]',
            threadTs="1700000000.000100",
        )
    )
    assert post == SlackPost(
        "New ticket",
        "#support",
        ({"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}},),
        "1700000000.000100",
    )


@pytest.mark.parametrize(
    "params",
    [{"channel": "#x", "text": ""}, {"channel": "#x", "text": "hi", "blocks": "[{]"}],
)
def test_a_slack_node_without_text_or_with_bad_blocks_is_an_invalid_message(params) -> None:
    error = post_of(node("integration.slack", **params))
    assert isinstance(error, DeliveryError) and error.type == "InvalidMessage"


def test_a_teams_node_names_its_webhook_and_facts() -> None:
    post = post_of(
        node(
            "integration.teams",
            text="Escalated",
            title="Order",
            facts={"Customer": "Ada"},
            webhook="support",
        )
    )
    assert post == TeamsPost("Escalated", "Order", (("Customer", "Ada"),), "support")


def test_the_card_has_title_text_and_facts() -> None:
    message = adaptive_card(TeamsPost("Escalated", "Order", (("Customer", "Ada"),)))
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert [b.get("text") for b in card["body"][:2]] == ["Order", "Escalated"]


def test_a_planned_post_is_recorded_pending_and_a_bad_one_failed() -> None:
    now = datetime.now(UTC)
    delivery, post = plan_post(node("integration.slack", channel="#x", text="hi"), now)
    assert delivery.record["status"] == "pending" and post is not None
    failed, none = plan_post(node("integration.teams", text=""), now)
    assert failed.record["status"] == "failed" and none is None
    assert failed.record["error"]["type"] == "InvalidMessage"


@pytest.mark.parametrize(
    ("status", "error", "kind", "retryable"),
    [
        (200, "not_in_channel", "NotPermitted", False),
        (200, "is_archived", "NotPermitted", False),
        (200, "channel_not_found", "InvalidRecipient", False),
        (200, "invalid_auth", "AuthenticationFailed", False),
        (200, "token_revoked", "AuthenticationFailed", False),
        (200, "msg_too_long", "InvalidMessage", False),
        (429, "ratelimited", "RateLimited", True),
        (200, "rate_limited", "RateLimited", True),
        (503, None, "ProviderUnavailable", True),
        (200, "something_new", "ProviderRefused", False),
    ],
)
def test_slacks_errors(status, error, kind, retryable) -> None:
    typed = slack_refused(status, error, 3)
    assert (typed.type, typed.retryable) == (kind, retryable)
    assert typed.for_workflow().get("provider_code") == error
    assert (typed.retry_after_seconds == 3) is (kind == "RateLimited")


@pytest.mark.parametrize(
    ("status", "text", "kind", "retryable"),
    [
        (400, "Bad payload received by generic incoming webhook.", "InvalidMessage", False),
        (413, "too big", "InvalidMessage", False),
        (404, "", "InvalidRecipient", False),
        (410, "Gone", "InvalidRecipient", False),
        (429, "", "RateLimited", True),
        (502, "", "ProviderUnavailable", True),
        (200, "Microsoft Teams endpoint returned HTTP error 429", "RateLimited", True),
    ],
)
def test_teams_answers(status, text, kind, retryable) -> None:
    typed = teams_refused(status, text, 2)
    assert (typed.type, typed.retryable, typed.http_status) == (kind, retryable, status)
