"""Salesforce's REST API in the sandbox over real HTTP: sobjects created (required fields,
defaults, case-safe 18-character ids), read and updated; SOQL (filters, escapes, ordering,
paging by batchSize); Salesforce's error lists; the daily API limit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from provider_sandbox.salesforce.rest import case_safe

V = "/services/data/v62.0"


def new_org(url: str, limit: int = 15_000) -> tuple[httpx.Client, dict[str, Any]]:
    http = httpx.Client(base_url=url)
    made = http.post("/sandbox/salesforce/orgs", json={"limit": limit})
    assert made.status_code == 201, made.text
    org = made.json()
    http.headers["Authorization"] = f"Bearer {org['access_token']}"
    return http, org


@pytest.fixture
def salesforce(sandbox_server) -> tuple[httpx.Client, dict[str, Any]]:
    http, org = new_org(sandbox_server.url)
    yield http, org
    http.close()


def test_ids_carry_salesforces_case_safe_suffix() -> None:
    assert case_safe("001A000001HWyxi") == "001A000001HWyxiIAD"  # a documented example


def test_leads_and_cases_are_created_read_and_updated(salesforce) -> None:
    http, _ = salesforce
    made = http.post(f"{V}/sobjects/Lead", json={"lastname": "Chen", "Company": "Bo Ltd"})
    assert made.status_code == 201 and made.json()["success"] is True
    lead_id = made.json()["id"]
    assert lead_id.startswith("00Q") and len(lead_id) == 18
    lead = http.get(f"{V}/sobjects/Lead/{lead_id}").json()
    assert (lead["LastName"], lead["Status"], lead["attributes"]["type"]) == (
        "Chen", "Open - Not Contacted", "Lead"
    )  # fmt: skip
    assert http.patch(f"{V}/sobjects/Lead/{lead_id}", json={"Status": "Working"}).status_code == 204
    picked = http.get(f"{V}/sobjects/Lead/{lead_id[:15]}", params={"fields": "status"}).json()
    assert {k: v for k, v in picked.items() if k != "attributes"} == {"Status": "Working"}
    case = http.post(f"{V}/sobjects/Case", json={"Subject": "Broken mug"}).json()
    record = http.get(f"{V}/sobjects/Case/{case['id']}").json()
    assert (record["Status"], record["Priority"], record["CaseNumber"]) == (
        "New",
        "Medium",
        "00001001",
    )


def test_soql_filters_escapes_orders_and_pages(salesforce) -> None:
    http, _ = salesforce
    for name in ("O'Brien", "Adams", "Zed"):
        http.post(f"{V}/sobjects/Contact", json={"LastName": name, "Email": f"{name[0]}@x.com"})
    answer = http.get(f"{V}/query", params={
        "q": r"SELECT Id, LastName FROM Contact WHERE LastName = 'O\'Brien' OR Email LIKE 'a@%'"
    }).json()  # fmt: skip
    assert sorted(r["LastName"] for r in answer["records"]) == ["Adams", "O'Brien"]
    assert answer["records"][0]["attributes"]["url"].startswith(f"{V}/sobjects/Contact/")
    ordered = http.get(f"{V}/query", params={
        "q": "select lastname from contact where not (lastname in ('Zed')) order by lastname desc"
    }).json()  # fmt: skip
    assert [r["LastName"] for r in ordered["records"]] == ["O'Brien", "Lopez", "Adams"]
    for n in range(250):
        http.post(f"{V}/sobjects/Lead", json={"LastName": f"L{n}", "Company": "C"})
    first = http.get(f"{V}/query", params={"q": "SELECT Id FROM Lead"},
                     headers={"Sforce-Query-Options": "batchSize=200"}).json()  # fmt: skip
    assert (first["totalSize"], first["done"], len(first["records"])) == (250, False, 200)
    rest = http.get(first["nextRecordsUrl"]).json()
    assert (rest["done"], len(rest["records"])) == (True, 50)
    counted = http.get(f"{V}/query", params={"q": "SELECT COUNT() FROM Lead"}).json()
    assert counted["totalSize"] == 250


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FORM Contact", "MALFORMED_QUERY"),
        ("SELECT Id FROM Foo", "INVALID_TYPE"),
        ("SELECT Shoe FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE LastName = 'open", "MALFORMED_QUERY"),
    ],
)
def test_soql_refusals(salesforce, soql, code) -> None:
    http, _ = salesforce
    answer = http.get(f"{V}/query", params={"q": soql})
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == code


def test_salesforces_refusals(salesforce, sandbox_server) -> None:
    http, _ = salesforce
    missing = http.post(f"{V}/sobjects/Lead", json={"FirstName": "x"})
    assert missing.status_code == 400 and missing.json() == [{
        "message": "Required fields are missing: [LastName, Company]",
        "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName", "Company"]}]  # fmt: skip
    unknown = http.post(f"{V}/sobjects/Lead", json={"LastName": "x", "Company": "y", "Shoe": 9})
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    nothing = http.get(f"{V}/sobjects/Contact/003000000000000AAA")
    assert nothing.status_code == 404 and nothing.json()[0]["errorCode"] == "NOT_FOUND"
    anonymous = httpx.get(f"{sandbox_server.url}{V}/limits")
    assert anonymous.status_code == 401
    assert anonymous.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_the_daily_limit_answers_request_limit_exceeded(sandbox_server) -> None:
    http, _ = new_org(sandbox_server.url, limit=2)
    answers = [http.get(f"{V}/limits") for _ in range(3)]
    http.close()
    assert [a.status_code for a in answers] == [200, 200, 403]
    assert answers[2].json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert answers[1].headers["Sforce-Limit-Info"] == "api-usage=2/2"
