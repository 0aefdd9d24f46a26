"""SLA policies: saved (business hours as a document, closed dates as ISO dates), listed by
position then name, replaced as the next revision, deleted; the business hours (zone, each
day's hours, holidays country and subdivision) and the targets validated naming the field; a
name once per tenant (409); at most MAX_POLICIES per tenant; another tenant's not found. Each
test runs on the in-memory database and on FerretDB (``resources_db``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from contracts.sla import SLA_POLICIES
from trigger_gateway.adapters.locks import Locks
from trigger_gateway.adapters.sla_policies import MAX_POLICIES, SlaPolicyRepository

NOON = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
OFFICE = {
    "timezone": "Europe/Berlin",
    "weekly": {
        "mon": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}],
        "fri": [{"start": "09:00", "end": "24:00"}],
    },
    "holidays_country": "DE",
    "holidays_subdivision": "BY",
    "closed_dates": ["2025-12-24", "2025-12-31"],
}
TARGETS = [
    {"metric": "first_response", "seconds": 3600},
    {"metric": "first_response", "seconds": 600, "priority": "urgent"},
    {"metric": "first_response", "seconds": 900, "channel": "sms"},
    {"metric": "resolution", "seconds": 86400},
]


@dataclass
class Clock:
    now: datetime = NOON

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Policies:
    kb: Any
    clock: Clock

    def as_tenant(self, key: str = "key-a") -> dict[str, str]:
        return dict(self.kb.as_tenant(key))

    def body(self, **change: Any) -> dict[str, Any]:
        return {"name": "Support", "targets": TARGETS, "business_hours": OFFICE, **change}

    async def post(self, key: str = "key-a", **change: Any) -> Any:
        return await self.kb.client.post(
            "/v1/sla-policies", json=self.body(**change), headers=self.as_tenant(key)
        )

    async def create(self, key: str = "key-a", **change: Any) -> dict[str, Any]:
        answer = await self.post(key, **change)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    async def put(self, policy_id: str, key: str = "key-a", **change: Any) -> Any:
        return await self.kb.client.put(
            f"/v1/sla-policies/{policy_id}", json=self.body(**change), headers=self.as_tenant(key)
        )

    async def listed(self, key: str = "key-a") -> list[dict[str, Any]]:
        answer = await self.kb.client.get("/v1/sla-policies", headers=self.as_tenant(key))
        assert answer.status_code == 200, answer.text
        return list(answer.json()["sla_policies"])


@pytest.fixture
async def slp(kb: Any) -> Policies:
    clock = Clock()
    repository = SlaPolicyRepository(kb.db, Locks(kb.db), clock=clock)
    await repository.ensure_indexes()
    kb.gw.client.app.app.state.sla_policies = repository
    return Policies(kb, clock)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_policy_is_saved_with_its_business_hours(slp: Policies) -> None:
    made = await slp.create()
    assert re.fullmatch(r"slp_[0-9a-f]{16}", made["id"])
    assert made["name"] == "Support" and made["revision"] == 1
    assert made["is_active"] is True and made["position"] == 0 and made["channels"] == []
    assert made["at_risk_fraction"] == 0.8 and made["replies_that_count"] == "any"
    assert made["pause_while_waiting_on_customer"] is True
    assert made["business_hours"] == OFFICE
    assert made["targets"][1] == {
        "metric": "first_response",
        "seconds": 600,
        "priority": "urgent",
        "channel": None,
    }
    assert at(made["created_at"]) == at(made["updated_at"]) == NOON
    stored = await slp.kb.db[SLA_POLICIES].find_one({"_id": made["id"]})
    assert stored["tenant_id"] == "ten_a" and stored["revision"] == 1
    assert stored["business_hours"]["closed_dates"] == ["2025-12-24", "2025-12-31"]
    assert stored["business_hours"]["weekly"]["fri"] == [{"start": "09:00", "end": "24:00"}]
    assert stored["targets"][0] == {
        "metric": "first_response",
        "seconds": 3600,
        "priority": None,
        "channel": None,
    }
    got = await slp.kb.client.get(f"/v1/sla-policies/{made['id']}", headers=slp.as_tenant())
    assert got.status_code == 200 and got.json() == made


async def test_a_policy_without_business_hours_counts_around_the_clock(slp: Policies) -> None:
    made = await slp.create(business_hours=None, targets=[TARGETS[0]])
    assert made["business_hours"] is None
    assert (await slp.listed())[0] == made


async def test_the_listing_is_by_position_then_name(slp: Policies) -> None:
    late = await slp.create(name="Late", position=5)
    beta = await slp.create(name="Beta", position=1)
    alpha = await slp.create(name="Alpha", position=1)
    first = await slp.create(name="Zulu", position=0, is_active=False)
    await slp.create("key-b", name="Theirs")
    listed = await slp.listed()
    assert [p["id"] for p in listed] == [first["id"], alpha["id"], beta["id"], late["id"]]
    assert listed[1] == alpha
    assert [p["name"] for p in await slp.listed("key-b")] == ["Theirs"]


async def test_a_replace_is_the_next_revision(slp: Policies) -> None:
    made = await slp.create()
    slp.clock.now = NOON + timedelta(minutes=5)
    answer = await slp.put(
        made["id"],
        name="Support (night)",
        position=3,
        channels=["sms", "chat"],
        business_hours=None,
        replies_that_count="agent",
    )
    assert answer.status_code == 200, answer.text
    after = answer.json()
    assert after["revision"] == 2 and after["name"] == "Support (night)"
    assert after["position"] == 3 and after["channels"] == ["sms", "chat"]
    assert after["business_hours"] is None and after["replies_that_count"] == "agent"
    assert after["created_at"] == made["created_at"]
    assert at(after["updated_at"]) == slp.clock.now
    again = await slp.put(made["id"])
    assert again.json()["revision"] == 3 and again.json()["business_hours"] == OFFICE
    assert again.json()["position"] == 0  # the default: a replace is whole
    got = await slp.kb.client.get(f"/v1/sla-policies/{made['id']}", headers=slp.as_tenant())
    assert got.json() == again.json()


async def test_a_deleted_policy_is_gone(slp: Policies, expect_problem: Any) -> None:
    made = await slp.create()
    kept = await slp.create(name="Other")
    path = f"/v1/sla-policies/{made['id']}"
    deleted = await slp.kb.client.delete(path, headers=slp.as_tenant())
    assert deleted.status_code == 204 and deleted.content == b""
    assert await slp.kb.db[SLA_POLICIES].find_one({"_id": made["id"]}) is None
    expect_problem(await slp.kb.client.get(path, headers=slp.as_tenant()), 404)
    expect_problem(await slp.kb.client.delete(path, headers=slp.as_tenant()), 404)
    expect_problem(await slp.put(made["id"]), 404)
    assert [p["id"] for p in await slp.listed()] == [kept["id"]]


def _hours(**change: Any) -> dict[str, Any]:
    return {"business_hours": {**OFFICE, **change}}


@pytest.mark.parametrize(
    ("change", "name", "says"),
    [
        (
            _hours(timezone="Mars/Olympus"),
            "body.business_hours.timezone",
            "'Mars/Olympus' is not an IANA time zone",
        ),
        (
            _hours(weekly={"tue": [{"start": "17:00", "end": "09:00"}]}),
            "body.business_hours.weekly.tue",
            "17:00-09:00 does not end after it starts",
        ),
        (
            _hours(weekly={"wed": [{"start": "09:00", "end": "09:00"}]}),
            "body.business_hours.weekly.wed",
            "does not end after it starts",
        ),
        (
            _hours(
                weekly={
                    "mon": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "13:30"}]
                }
            ),
            "body.business_hours.weekly.mon",
            "09:00-13:30 overlaps the next hours",
        ),
        (
            _hours(weekly={"sat": []}),
            "body.business_hours.weekly",
            "has no opening hours",
        ),
        (
            _hours(holidays_country="XX", holidays_subdivision=None),
            "body.business_hours.holidays_country",
            "'XX' is not a country the holidays package knows",
        ),
        (
            _hours(holidays_country="DE", holidays_subdivision="ZZ"),
            "body.business_hours.holidays_subdivision",
            "'DE' has no subdivision 'ZZ'",
        ),
        (
            _hours(holidays_country=None, holidays_subdivision="BY"),
            "body.business_hours.holidays_subdivision",
            "needs holidays_country",
        ),
        (
            {"targets": [*TARGETS, {"metric": "first_response", "seconds": 60, "channel": "sms"}]},
            "body.targets",
            "targets[4] repeats targets[2]: metric first_response, priority any, channel sms",
        ),
        # what the schema says, answered as the gateway answers every schema error
        ({"targets": []}, "body.targets", ""),
        (
            {"targets": [{"metric": "first_response", "seconds": 0}]},
            "body.targets[0].seconds",
            "",
        ),
        (
            {"targets": [{"metric": "first_response", "seconds": 60, "priority": "critical"}]},
            "body.targets[0].priority",
            "",
        ),
        (
            _hours(weekly={"mon": [{"start": "9:00", "end": "17:00"}]}),
            "body.business_hours.weekly.mon[0].start",
            "",
        ),
        (_hours(weekly={"someday": []}), "body.business_hours.weekly.someday.[key]", ""),
        (_hours(closed_dates=["christmas"]), "body.business_hours.closed_dates[0]", ""),
        ({"colour": "blue"}, "body.colour", ""),
        ({"name": " "}, "body.name", ""),
        ({"at_risk_fraction": 1}, "body.at_risk_fraction", ""),
    ],
)
async def test_the_policy_is_validated_naming_the_field(
    slp: Policies, expect_problem: Any, change: dict[str, Any], name: str, says: str
) -> None:
    problem = expect_problem(await slp.post(**change), 422)
    errors = {e["name"]: e["reason"] for e in problem["errors"]}
    assert list(errors) == [name] and says in errors[name], errors
    made = await slp.create()
    replaced = await slp.put(made["id"], **change)
    assert [e["name"] for e in expect_problem(replaced, 422)["errors"]] == [name]
    stored = await slp.kb.db[SLA_POLICIES].find_one({"_id": made["id"]})
    assert stored["revision"] == 1 and stored["business_hours"]["timezone"] == "Europe/Berlin"


async def test_every_wrong_field_is_named_at_once(slp: Policies, expect_problem: Any) -> None:
    problem = expect_problem(
        await slp.post(
            targets=[TARGETS[0], TARGETS[0]],
            **_hours(
                timezone="Nowhere/Land",
                weekly={"mon": [{"start": "10:00", "end": "09:00"}]},
                holidays_country="QQ",
            ),
        ),
        422,
    )
    names = [e["name"] for e in problem["errors"]]
    assert names == [
        "body.business_hours.timezone",
        "body.business_hours.weekly.mon",
        "body.business_hours.holidays_country",
        "body.targets",
    ]
    assert "'Nowhere/Land'" in problem["detail"] and "'QQ'" in problem["detail"]


async def test_a_name_is_the_tenants_once(slp: Policies, expect_problem: Any) -> None:
    made = await slp.create()
    other = await slp.create(name="Other")
    problem = expect_problem(await slp.post(), 409)
    [error] = problem["errors"]
    assert error["name"] == "body.name" and "'Support'" in error["reason"]
    renamed = await slp.put(other["id"], name="Support")
    assert expect_problem(renamed, 409)["errors"][0]["name"] == "body.name"
    stored = await slp.kb.db[SLA_POLICIES].find_one({"_id": other["id"]})
    assert stored["name"] == "Other" and stored["revision"] == 1
    kept = await slp.put(made["id"], position=2)  # its own name again
    assert kept.status_code == 200, kept.text
    theirs = await slp.post("key-b")  # another tenant may have one of that name
    assert theirs.status_code == 201, theirs.text
    assert [p["name"] for p in await slp.listed()] == ["Other", "Support"]


async def test_another_tenants_policy_is_not_found(slp: Policies, expect_problem: Any) -> None:
    theirs = await slp.create("key-b")
    path = f"/v1/sla-policies/{theirs['id']}"
    for answer in (
        await slp.kb.client.get(path, headers=slp.as_tenant()),
        await slp.put(theirs["id"]),
        await slp.kb.client.delete(path, headers=slp.as_tenant()),
    ):
        assert "no SLA policy" in expect_problem(answer, 404)["detail"]
    assert await slp.listed() == []
    still = await slp.kb.client.get(path, headers=slp.as_tenant("key-b"))
    assert still.status_code == 200 and still.json() == theirs


async def test_a_malformed_id_is_422(slp: Policies, expect_problem: Any) -> None:
    answer = await slp.kb.client.get("/v1/sla-policies/slp_nothex", headers=slp.as_tenant())
    assert [e["name"] for e in expect_problem(answer, 422)["errors"]] == ["path.policy_id"]


async def test_a_tenant_has_at_most_its_limit_of_policies(
    slp: Policies, expect_problem: Any
) -> None:
    body = {"targets": [TARGETS[0]], "business_hours": None}
    await slp.kb.db[SLA_POLICIES].insert_many(
        [
            {"_id": f"slp_{n:016x}", "tenant_id": "ten_a", "name": f"P{n:03d}", "revision": 1}
            for n in range(MAX_POLICIES - 1)
        ]
    )
    last = await slp.create(name="Last", **body)
    problem = expect_problem(await slp.post(name="One too many", **body), 422)
    assert f"at most {MAX_POLICIES} SLA policies" in problem["detail"]
    assert [e["name"] for e in problem["errors"]] == ["body"]
    assert await slp.kb.db[SLA_POLICIES].count_documents({"tenant_id": "ten_a"}) == MAX_POLICIES
    replaced = await slp.put(last["id"], name="Last", position=1, **body)
    assert replaced.status_code == 200, replaced.text  # a replace adds none
    assert (await slp.post("key-b", **body)).status_code == 201  # the limit is per tenant
    deleted = await slp.kb.client.delete(f"/v1/sla-policies/{last['id']}", headers=slp.as_tenant())
    assert deleted.status_code == 204
    assert (await slp.post(name="One too many", **body)).status_code == 201
