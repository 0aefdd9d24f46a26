"""Jira Cloud's REST API v3 in the sandbox over real HTTP: basic auth with an API token, issues
created (Atlassian Documents), read, commented and transitioned; Jira's error bodies; the
OAuth path by cloud id; the limit with Retry-After."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def new_site(url: str, limit: int = 600) -> tuple[httpx.Client, dict[str, Any]]:
    http = httpx.Client(base_url=url)
    made = http.post("/sandbox/jira/sites", json={"limit": limit})
    assert made.status_code == 201, made.text
    site = made.json()
    http.auth = (site["email"], site["api_token"])
    return http, site


@pytest.fixture
def jira(sandbox_server) -> tuple[httpx.Client, dict[str, Any]]:
    http, site = new_site(sandbox_server.url)
    yield http, site
    http.close()


def doc(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def test_an_issue_is_created_read_commented_and_transitioned(jira) -> None:
    http, site = jira
    fields = {
        "project": {"key": "SUP"},
        "summary": "Checkout fails",
        "issuetype": {"name": "Bug"},
        "description": doc("500 on pay"),
        "labels": ["chat"],
    }
    made = http.post("/rest/api/3/issue", json={"fields": fields})
    assert made.status_code == 201 and made.json()["key"] == "SUP-1"
    issue = http.get("/rest/api/3/issue/SUP-1", params={"fields": "summary,status"}).json()
    assert set(issue["fields"]) == {"summary", "status"}
    assert issue["fields"]["status"]["name"] == "To Do"
    comment = http.post("/rest/api/3/issue/SUP-1/comment", json={"body": doc("On it")})
    assert comment.status_code == 201 and comment.json()["body"] == doc("On it")
    offered = http.get("/rest/api/3/issue/SUP-1/transitions").json()["transitions"]
    assert [t["name"] for t in offered] == ["In Progress", "Done"]
    done = next(t["id"] for t in offered if t["name"] == "Done")
    assert (
        http.post(
            "/rest/api/3/issue/SUP-1/transitions", json={"transition": {"id": done}}
        ).status_code
        == 204
    )
    assert (
        http.get(f"/rest/api/3/issue/{made.json()['id']}").json()["fields"]["status"][
            "statusCategory"
        ]["key"]
        == "done"
    )
    assert http.get("/rest/api/3/myself").json()["emailAddress"] == site["email"]


def test_jiras_refusals(jira, sandbox_server) -> None:
    http, _ = jira
    missing = http.get("/rest/api/3/issue/SUP-99")
    assert missing.status_code == 404 and missing.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]
    invalid = http.post("/rest/api/3/issue", json={"fields": {"project": {"key": "NOPE"}}})
    assert invalid.status_code == 400
    assert set(invalid.json()["errors"]) == {"project", "summary", "issuetype"}
    plain = http.post(
        "/rest/api/3/issue",
        json={
            "fields": {
                "project": {"key": "SUP"},
                "summary": "x",
                "issuetype": {"name": "Task"},
                "description": "not a document",
            }
        },
    )
    assert "description" in plain.json()["errors"]
    http.post(
        "/rest/api/3/issue",
        json={"fields": {"project": {"key": "SUP"}, "summary": "y", "issuetype": {"name": "Task"}}},
    )
    bad = http.post("/rest/api/3/issue/SUP-1/transitions", json={"transition": {"id": "11"}})
    assert bad.status_code == 400 and "not valid" in bad.json()["errorMessages"][0]
    anonymous = httpx.get(f"{sandbox_server.url}/rest/api/3/myself")
    assert anonymous.status_code == 401 and "must be authenticated" in anonymous.text


def test_by_oauth_a_token_reaches_the_site_by_its_cloud_id_and_refresh_tokens_rotate(
    sandbox_server,
) -> None:
    http, site = new_site(sandbox_server.url)
    http.auth = None
    app = {
        "provider": "jira",
        "client_id": "j-app",
        "client_secret": "j-secret",
        "redirect_uri": "https://app.example/cb",
        "account": site["site"],
    }
    assert http.post("/sandbox/oauth/apps", json=app).status_code == 201
    consent = http.get(
        "/authorize",
        params={
            "audience": "api.atlassian.com",
            "client_id": "j-app",
            "response_type": "code",
            "redirect_uri": "https://app.example/cb",
            "state": "s1",
            "scope": "read:jira-work",
        },
    )
    assert consent.status_code == 302
    back = httpx.URL(consent.headers["location"])
    assert back.params["state"] == "s1"
    client = {"client_id": "j-app", "client_secret": "j-secret"}
    tokens = http.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": back.params["code"],
            "redirect_uri": "https://app.example/cb",
            **client,
        },
    ).json()
    assert tokens["expires_in"] == 1800 and tokens["refresh_token"]
    again = http.post(
        "/oauth/token",
        json={
            "grant_type": "authorization_code",
            "code": back.params["code"],
            "redirect_uri": "https://app.example/cb",
            **client,
        },
    )
    assert again.status_code == 403 and again.json()["error"] == "invalid_grant"  # single-use
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    resources = http.get("/oauth/token/accessible-resources", headers=bearer).json()
    assert [(r["id"], r["url"]) for r in resources] == [
        (site["cloud_id"], f"https://{site['site']}")
    ]
    assert http.get(f"/ex/jira/{site['cloud_id']}/rest/api/3/myself", headers=bearer).is_success
    elsewhere = f"/ex/jira/{'0' * 8}-0000-0000-0000-{'0' * 12}/rest/api/3/myself"
    assert http.get(elsewhere, headers=bearer).status_code == 401
    renewed = http.post(
        "/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **client},
    )
    assert renewed.status_code == 200 and renewed.json()["refresh_token"] != tokens["refresh_token"]
    reused = http.post(
        "/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **client},
    )
    assert reused.status_code == 403 and reused.json()["error"] == "invalid_grant"  # rotated
    http.close()


def test_over_the_limit_429_says_when(sandbox_server) -> None:
    http, _ = new_site(sandbox_server.url, limit=1)
    answers = [http.get("/rest/api/3/myself") for _ in range(2)]
    http.close()
    assert [a.status_code for a in answers] == [200, 429]
    assert int(answers[1].headers["Retry-After"]) >= 1 and answers[1].headers["X-RateLimit-Reset"]
