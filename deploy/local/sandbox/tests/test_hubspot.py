"""HubSpot's CRM v3 objects API in the sandbox over real HTTP: the bearer token, create, read
(by id or email), update, page; HubSpot's error bodies; the rolling ten-second limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.fixture
def hubspot(sandbox_server) -> tuple[httpx.Client, dict[str, Any]]:
    http = httpx.Client(base_url=sandbox_server.url)
    made = http.post("/sandbox/hubspot/accounts", json={"limit": 100})
    assert made.status_code == 201, made.text
    account = made.json()
    http.headers["Authorization"] = f"Bearer {account['token']}"
    yield http, account
    http.close()


def test_contacts_are_created_read_updated_and_unique_by_email(hubspot) -> None:
    http, _ = hubspot
    made = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "cy@x.com"}})
    assert made.status_code == 201 and made.json()["properties"]["email"] == "cy@x.com"
    assert int(made.headers["X-HubSpot-RateLimit-Remaining"]) < 100
    contact_id = made.json()["id"]
    again = http.post("/crm/v3/objects/contacts", json={"properties": {"email": "CY@x.com"}})
    assert again.status_code == 409 and again.json()["category"] == "CONFLICT"
    assert again.json()["message"] == f"Contact already exists. Existing ID: {contact_id}"
    http.patch(f"/crm/v3/objects/contacts/{contact_id}", json={"properties": {"phone": "+1555"}})
    read = http.get(
        "/crm/v3/objects/contacts/cy@x.com", params={"idProperty": "email", "properties": "phone"}
    )
    assert read.json()["properties"] == {"phone": "+1555"}
    default = http.get(f"/crm/v3/objects/contacts/{contact_id}").json()["properties"]
    assert set(default) == {"createdate", "email", "firstname", "hs_object_id",
                            "lastmodifieddate", "lastname"}  # fmt: skip
    page = http.get("/crm/v3/objects/contacts", params={"limit": 1}).json()
    assert len(page["results"]) == 1 and "after" in page["paging"]["next"]


def test_hubspots_refusals(hubspot, sandbox_server) -> None:
    http, _ = hubspot
    missing = http.get("/crm/v3/objects/contacts/999999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    unknown = http.post("/crm/v3/objects/contacts", json={"properties": {"shoe_size": "9"}})
    assert unknown.status_code == 400 and unknown.json()["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in unknown.text
    no_name = http.post("/crm/v3/objects/deals", json={"properties": {"amount": "10"}})
    assert no_name.status_code == 400
    anonymous = httpx.get(f"{sandbox_server.url}/crm/v3/objects/contacts/1")
    assert anonymous.status_code == 401 and anonymous.json()["category"] == "INVALID_AUTHENTICATION"


def test_the_rolling_ten_seconds_answer_429(sandbox_server) -> None:
    with httpx.Client(base_url=sandbox_server.url) as http:
        account = http.post("/sandbox/hubspot/accounts", json={"limit": 3}).json()
        http.headers["Authorization"] = f"Bearer {account['token']}"
        answers = [http.get("/crm/v3/objects/contacts", params={"limit": 1}) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert answers[3].headers["X-HubSpot-RateLimit-Remaining"] == "0"
    created = len(account["objects"]["contacts"])
    assert created == 1
