"""Zendesk's Support API in the sandbox over real HTTP: basic auth with an API token, tickets
created (once per Idempotency-Key), read, updated and commented, users found by email; Zendesk's
error bodies; the per-minute limit with Retry-After."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def new_account(url: str, limit: int = 400) -> tuple[httpx.Client, dict[str, Any]]:
    http = httpx.Client(base_url=url)
    made = http.post("/sandbox/zendesk/accounts", json={"limit": limit})
    assert made.status_code == 201, made.text
    account = made.json()
    http.auth = (f"{account['email']}/token", account["api_token"])
    return http, account


@pytest.fixture
def zendesk(sandbox_server) -> tuple[httpx.Client, dict[str, Any]]:
    http, account = new_account(sandbox_server.url)
    yield http, account
    http.close()


def test_a_ticket_is_made_once_per_idempotency_key_then_updated_and_commented(zendesk) -> None:
    http, account = zendesk
    body = {"ticket": {"subject": "Mug arrived broken", "comment": {"body": "Photo attached"},
                       "requester": {"email": "ana@example.com"}, "priority": "high"}}  # fmt: skip
    made = http.post("/api/v2/tickets", json=body, headers={"Idempotency-Key": "k1"})
    assert made.status_code == 201 and made.headers["x-idempotency-lookup"] == "miss"
    ticket = made.json()["ticket"]
    assert (ticket["status"], ticket["priority"], ticket["description"]) == (
        "new", "high", "Photo attached"
    )  # fmt: skip
    assert int(made.headers["X-Rate-Limit-Remaining"]) < int(made.headers["X-Rate-Limit"])
    again = http.post("/api/v2/tickets", json=body, headers={"Idempotency-Key": "k1"})
    assert again.headers["x-idempotency-lookup"] == "hit"
    assert again.json()["ticket"]["id"] == ticket["id"]
    another = {"ticket": {"subject": "x", "comment": {"body": "y"}}}
    other = http.post("/api/v2/tickets", json=another, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 400 and other.json()["error"] == "IdempotentRequestError"
    changed = http.put(
        f"/api/v2/tickets/{ticket['id']}",
        json={"ticket": {"status": "pending", "comment": {"body": "A new mug is on its way"}}},
    )
    assert changed.json()["ticket"]["status"] == "pending"
    assert [e["type"] for e in changed.json()["audit"]["events"]] == ["Comment", "Change"]
    comments = http.get(f"/api/v2/tickets/{ticket['id']}/comments").json()["comments"]
    assert [c["body"] for c in comments] == ["Photo attached", "A new mug is on its way"]
    state = http.get(f"/sandbox/zendesk/accounts/{account['subdomain']}").json()
    assert state["creates"] == 1


def test_users_are_found_by_email_and_created_or_updated(zendesk) -> None:
    http, _ = zendesk
    found = http.get("/api/v2/users/search", params={"query": "email:ana@example.com"}).json()
    assert [u["name"] for u in found["users"]] == ["Ana Lopez"]
    made = http.post("/api/v2/users/create_or_update",
                     json={"user": {"email": "cy@example.com", "name": "Cy"}})  # fmt: skip
    assert made.status_code == 201
    same = http.post("/api/v2/users/create_or_update",
                     json={"user": {"email": "cy@example.com", "name": "Cy D"}})  # fmt: skip
    assert same.status_code == 200 and same.json()["user"]["id"] == made.json()["user"]["id"]
    assert http.get(f"/api/v2/users/{made.json()['user']['id']}").json()["user"]["name"] == "Cy D"
    assert http.get("/api/v2/users/me").json()["user"]["role"] == "agent"


def test_zendesks_refusals(zendesk, sandbox_server) -> None:
    http, _ = zendesk
    missing = http.get("/api/v2/tickets/1")
    assert missing.status_code == 404 and missing.json() == {
        "error": "RecordNotFound", "description": "Not found"
    }  # fmt: skip
    invalid = http.post("/api/v2/tickets", json={"ticket": {"subject": "x", "status": "nope",
                                                            "comment": {"body": "y"}}})  # fmt: skip
    assert invalid.status_code == 422 and invalid.json()["error"] == "RecordInvalid"
    assert "status" in invalid.json()["details"]
    blank = http.post("/api/v2/tickets", json={"ticket": {"subject": "no comment"}})
    assert blank.status_code == 422 and "description" in blank.json()["details"]
    wrong = httpx.get(f"{sandbox_server.url}/api/v2/users/me", auth=("x@y.z/token", "wrong"))
    assert wrong.status_code == 401 and wrong.json() == {"error": "Couldn't authenticate you"}


def test_the_per_minute_limit_answers_429_with_retry_after(sandbox_server) -> None:
    http, _ = new_account(sandbox_server.url, limit=2)
    answers = [http.get("/api/v2/users/me") for _ in range(3)]
    http.close()
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert 1 <= int(answers[2].headers["Retry-After"]) <= 60
    assert answers[2].headers["X-Rate-Limit-Remaining"] == "0"
