"""Teams incoming webhooks in the sandbox: an Adaptive Card taken (`1`), Teams' refusals."""

import httpx
import pytest


def card_message(body):
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {"type": "AdaptiveCard", "version": "1.4", "body": body},
            }
        ],
    }


@pytest.fixture
def http(sandbox_server):
    with httpx.Client(base_url=sandbox_server.url) as client:
        assert client.delete("/sandbox/teams").status_code == 200
        yield client


@pytest.fixture
def webhook(http):
    made = http.post("/sandbox/teams/webhooks", json={"channel": "Support"})
    assert made.status_code == 201, made.text
    return made.json()


def test_an_adaptive_card_is_taken_and_recorded(http, webhook):
    body = [{"type": "TextBlock", "text": "Ticket escalated", "wrap": True}]

    answer = http.post(webhook["url"], json=card_message(body))

    assert (answer.status_code, answer.text) == (200, "1")
    [post] = http.get(f"/sandbox/teams/webhooks/{webhook['id']}/posts").json()["posts"]
    assert post["payload"]["attachments"][0]["content"]["body"] == body


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (
            {"type": "message", "attachments": []},
            "Bad payload received by generic incoming webhook.",
        ),
        ({"title": "no text"}, "Summary or Text is required."),
        (
            {
                "type": "message",
                "attachments": [
                    {
                        "contentType": "application/vnd.microsoft.card.adaptive",
                        "content": {"type": "Card"},
                    }
                ],
            },
            "The card type must be AdaptiveCard.",
        ),
    ],
)
def test_a_bad_payload_is_400_with_teams_text(http, webhook, payload, reason):
    answer = http.post(webhook["url"], json=payload)
    assert (answer.status_code, answer.text) == (400, reason)


def test_not_json_is_400(http, webhook):
    answer = http.post(webhook["url"], content=b"{", headers={"content-type": "application/json"})
    assert answer.status_code == 400


def test_a_removed_or_unknown_webhook_is_404(http, webhook):
    http.delete(f"/sandbox/teams/webhooks/{webhook['id']}")
    assert http.post(webhook["url"], json=card_message([])).status_code == 404
    assert http.post("/teams/webhook/nope", json=card_message([])).status_code == 404


def test_a_rate_limited_webhook_is_429_with_retry_after(http):
    made = http.post("/sandbox/teams/webhooks", json={"rate_limited": True}).json()
    answer = http.post(made["url"], json=card_message([]))
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "1")


def test_over_28_kb_is_413(http, webhook):
    body = [{"type": "TextBlock", "text": "x" * 30_000}]
    assert http.post(webhook["url"], json=card_message(body)).status_code == 413
