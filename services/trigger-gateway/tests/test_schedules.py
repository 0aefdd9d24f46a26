"""Workflow schedules: saved with their next run computed in their time zone from now (and again
on each change), listed and filtered by workflow, replaced as the next revision keeping what
the scheduler fired, deleted; the expression, the zone and the workflow (the tenant's, its
trigger Scheduled) validated naming the field; another tenant's not found. Each test runs on
the in-memory database and on FerretDB (``resources_db``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clocks.schedules import Schedule
from contracts.schedules import (
    SCHEDULED,
    SCHEDULES,
    schedule_partition,
    scheduled_trigger_id,
)
from trigger_gateway.adapters.locks import Locks
from trigger_gateway.adapters.schedules import ScheduleRepository
from trigger_gateway.adapters.workflows import WorkflowRepository

WEDNESDAY_NOON = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
MONDAYS_AT_NINE = "0 9 * * 1"
_BODY = {"cron_expression": MONDAYS_AT_NINE, "timezone": "Europe/Berlin"}


@dataclass
class Clock:
    now: datetime = WEDNESDAY_NOON

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Schedules:
    kb: Any
    clock: Clock
    workflow: str  # ten_a's, its trigger Scheduled

    def as_tenant(self, key: str = "key-a") -> dict[str, str]:
        return dict(self.kb.as_tenant(key))

    async def post(self, key: str = "key-a", **change: Any) -> Any:
        body = {"workflow_id": self.workflow, "cron_expression": MONDAYS_AT_NINE, **change}
        body.setdefault("timezone", "Europe/Berlin")
        return await self.kb.client.post("/v1/schedules", json=body, headers=self.as_tenant(key))

    async def create(self, **change: Any) -> dict[str, Any]:
        answer = await self.post(**change)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


async def seed_workflow(db: Any, trigger: str = SCHEDULED, tenant: str = "ten_a") -> str:
    """A workflow stored as POST /v1/workflows stores one."""
    workflow_id = "wf_" + secrets.token_hex(8)
    now = datetime.now(UTC).replace(microsecond=0)
    doc = {
        "_id": workflow_id,
        "tenant_id": tenant,
        "name": "Monday digest",
        "trigger_type": trigger,
        "is_active": False,
        "latest_version": 1,
        "created_at": now,
    }
    definition = {
        "name": "Monday digest",
        "triggerType": trigger,
        "nodes": [{"id": "t", "type": "trigger", "label": trigger, "config": {}}],
        "edges": [],
    }
    await WorkflowRepository(db).create(doc, definition)
    return workflow_id


@pytest.fixture
async def sched(kb: Any) -> Schedules:
    clock = Clock()
    repository = ScheduleRepository(kb.db, Locks(kb.db), clock=clock)
    await repository.ensure_indexes()
    kb.gw.client.app.app.state.schedules = repository
    return Schedules(kb, clock, await seed_workflow(kb.db))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_a_schedule_is_saved_with_its_next_run_in_its_zone(sched: Schedules) -> None:
    made = await sched.create()
    assert made["id"].startswith("sch_") and len(made["id"]) == 28
    assert at(made["next_run_at"]) == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert made["is_active"] is True and made["catch_up"] == "once"
    assert made["catch_up_limit"] == 10 and made["overlap"] == "skip"
    assert made["last_run_at"] is None and made["last_trigger_id"] is None
    assert made["fires"] == 0 and made["revision"] == 1
    assert at(made["created_at"]) == at(made["updated_at"]) == WEDNESDAY_NOON
    stored = await sched.kb.db[SCHEDULES].find_one({"_id": made["id"]})
    assert stored["tenant_id"] == "ten_a" and stored["workflow_id"] == sched.workflow
    assert stored["partition"] == schedule_partition(made["id"])
    assert stored["next_run_at"] == datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    assert stored["timezone"] == "Europe/Berlin" and stored["cron_expression"] == MONDAYS_AT_NINE
    got = await sched.kb.client.get(f"/v1/schedules/{made['id']}", headers=sched.as_tenant())
    assert got.status_code == 200 and got.json() == made


async def test_the_next_run_follows_the_zones_daylight_saving_time(sched: Schedules) -> None:
    sched.clock.now = datetime(2025, 3, 26, 12, 0, tzinfo=UTC)  # Berlin moves to CEST on 30th
    made = await sched.create()
    assert at(made["next_run_at"]) == datetime(2025, 3, 31, 7, 0, tzinfo=UTC)  # 09:00 CEST
    in_utc = await sched.create(timezone="UTC")
    assert at(in_utc["next_run_at"]) == datetime(2025, 3, 31, 9, 0, tzinfo=UTC)


async def test_a_six_field_expression_has_seconds_first(sched: Schedules) -> None:
    made = await sched.create(cron_expression="*/10 * * * * *", timezone="UTC")
    assert at(made["next_run_at"]) == WEDNESDAY_NOON + timedelta(seconds=10)
    monday = await sched.create(cron_expression="30 0 9 * * 1")
    assert at(monday["next_run_at"]) == datetime(2025, 3, 10, 8, 0, 30, tzinfo=UTC)
    expected = Schedule.parse("30 0 9 * * 1", "Europe/Berlin").next_after(WEDNESDAY_NOON)
    assert at(monday["next_run_at"]) == expected


async def test_the_listing_is_newest_first_and_filters_by_workflow(sched: Schedules) -> None:
    other = await seed_workflow(sched.kb.db)
    first = await sched.create()
    sched.clock.now += timedelta(seconds=1)
    second = await sched.create(workflow_id=other)
    sched.clock.now += timedelta(seconds=1)
    third = await sched.create(cron_expression="0 8 * * *")
    await sched.kb.client.post(
        "/v1/schedules",
        json={"workflow_id": await seed_workflow(sched.kb.db, tenant="ten_b"), **_BODY},
        headers=sched.as_tenant("key-b"),
    )
    listed = await sched.kb.client.get("/v1/schedules", headers=sched.as_tenant())
    assert listed.status_code == 200, listed.text
    assert [s["id"] for s in listed.json()["schedules"]] == [third["id"], second["id"], first["id"]]
    assert listed.json()["schedules"][0] == third
    one = await sched.kb.client.get(
        "/v1/schedules", params={"workflow_id": sched.workflow}, headers=sched.as_tenant()
    )
    assert [s["id"] for s in one.json()["schedules"]] == [third["id"], first["id"]]
    none = await sched.kb.client.get(
        "/v1/schedules", params={"workflow_id": "wf_" + "0" * 24}, headers=sched.as_tenant()
    )
    assert none.json() == {"schedules": []}


async def test_a_replace_is_the_next_revision_with_its_next_run_again(sched: Schedules) -> None:
    made = await sched.create()
    fired = datetime(2025, 3, 10, 8, 0, tzinfo=UTC)
    trigger_id = scheduled_trigger_id(made["id"], int(fired.timestamp()))
    await sched.kb.db[SCHEDULES].update_one(  # as the scheduler records a fire
        {"_id": made["id"]},
        {"$set": {"last_run_at": fired, "last_trigger_id": trigger_id, "fires": 1}},
    )
    sched.clock.now = datetime(2025, 3, 11, 6, 30, tzinfo=UTC)
    body = {"workflow_id": sched.workflow, "cron_expression": "0 7 * * *", "timezone": "UTC"}
    answer = await sched.kb.client.put(
        f"/v1/schedules/{made['id']}",
        json={**body, "is_active": False, "catch_up": "each", "overlap": "allow"},
        headers=sched.as_tenant(),
    )
    assert answer.status_code == 200, answer.text
    after = answer.json()
    assert after["revision"] == 2 and after["cron_expression"] == "0 7 * * *"
    assert after["is_active"] is False and after["catch_up"] == "each"
    assert after["overlap"] == "allow" and after["timezone"] == "UTC"
    assert at(after["next_run_at"]) == datetime(2025, 3, 11, 7, 0, tzinfo=UTC)
    assert at(after["last_run_at"]) == fired and after["fires"] == 1
    assert after["last_trigger_id"] == trigger_id
    assert after["created_at"] == made["created_at"]
    assert at(after["updated_at"]) == sched.clock.now
    again = await sched.kb.client.put(
        f"/v1/schedules/{made['id']}", json=body, headers=sched.as_tenant()
    )
    assert again.json()["revision"] == 3 and again.json()["is_active"] is True  # the default
    got = await sched.kb.client.get(f"/v1/schedules/{made['id']}", headers=sched.as_tenant())
    assert got.json() == again.json()


async def test_a_deleted_schedule_is_gone(sched: Schedules, expect_problem: Any) -> None:
    made = await sched.create()
    kept = await sched.create(cron_expression="0 8 * * *")
    path = f"/v1/schedules/{made['id']}"
    deleted = await sched.kb.client.delete(path, headers=sched.as_tenant())
    assert deleted.status_code == 204 and deleted.content == b""
    assert await sched.kb.db[SCHEDULES].find_one({"_id": made["id"]}) is None
    expect_problem(await sched.kb.client.get(path, headers=sched.as_tenant()), 404)
    expect_problem(await sched.kb.client.delete(path, headers=sched.as_tenant()), 404)
    listed = await sched.kb.client.get("/v1/schedules", headers=sched.as_tenant())
    assert [s["id"] for s in listed.json()["schedules"]] == [kept["id"]]


@pytest.mark.parametrize(
    ("change", "name", "says"),
    [
        ({"cron_expression": "61 * * * *"}, "body.cron_expression", "Bad minute"),
        ({"cron_expression": "0 9 * * 1 2 3"}, "body.cron_expression", "has 7 fields"),
        ({"cron_expression": "70 0 9 * * 1"}, "body.cron_expression", "out of 0-59"),
        ({"timezone": "Mars/Olympus"}, "body.timezone", "'Mars/Olympus' is not an IANA"),
        ({"timezone": "europe/berlin"}, "body.timezone", "'europe/berlin' is not an IANA"),
        ({"workflow_id": "wf_" + "0" * 24}, "body.workflow_id", "names no workflow"),
        ({"colour": "blue"}, "body.colour", ""),
        ({"is_active": "yes"}, "body.is_active", ""),
        ({"catch_up_limit": 0}, "body.catch_up_limit", ""),
    ],
)
async def test_the_spec_is_validated_naming_the_field(
    sched: Schedules, expect_problem: Any, change: dict[str, Any], name: str, says: str
) -> None:
    problem = expect_problem(await sched.post(**change), 422)
    errors = {e["name"]: e["reason"] for e in problem["errors"]}
    assert list(errors) == [name] and says in errors[name], errors
    made = await sched.create()
    replaced = await sched.kb.client.put(
        f"/v1/schedules/{made['id']}",
        json={"workflow_id": sched.workflow, **_BODY, **change},
        headers=sched.as_tenant(),
    )
    assert [e["name"] for e in expect_problem(replaced, 422)["errors"]] == [name]
    stored = await sched.kb.db[SCHEDULES].find_one({"_id": made["id"]})
    assert stored["revision"] == 1 and stored["cron_expression"] == MONDAYS_AT_NINE


async def test_the_workflows_trigger_must_be_scheduled(
    sched: Schedules, expect_problem: Any
) -> None:
    on_message = await seed_workflow(sched.kb.db, trigger="Incoming Message")
    problem = expect_problem(await sched.post(workflow_id=on_message), 422)
    [error] = problem["errors"]
    assert error["name"] == "body.workflow_id"
    assert (
        "'Incoming Message'" in error["reason"] and "whose trigger is Scheduled" in error["reason"]
    )
    assert problem["detail"] == f"body.workflow_id {error['reason']}"


async def test_every_wrong_field_is_named_at_once(sched: Schedules, expect_problem: Any) -> None:
    problem = expect_problem(
        await sched.post(
            workflow_id="wf_" + "1" * 24, cron_expression="0 25 * * *", timezone="Nowhere/Land"
        ),
        422,
    )
    names = [e["name"] for e in problem["errors"]]
    assert names == ["body.timezone", "body.cron_expression", "body.workflow_id"]
    assert "'Nowhere/Land'" in problem["detail"] and "Bad hour" in problem["detail"]


async def test_another_tenants_schedule_is_not_found(sched: Schedules, expect_problem: Any) -> None:
    theirs_workflow = await seed_workflow(sched.kb.db, tenant="ten_b")
    theirs = await sched.kb.client.post(
        "/v1/schedules",
        json={"workflow_id": theirs_workflow, **_BODY},
        headers=sched.as_tenant("key-b"),
    )
    assert theirs.status_code == 201, theirs.text
    path = f"/v1/schedules/{theirs.json()['id']}"
    body = {"workflow_id": sched.workflow, **_BODY}
    for answer in (
        await sched.kb.client.get(path, headers=sched.as_tenant()),
        await sched.kb.client.put(path, json=body, headers=sched.as_tenant()),
        await sched.kb.client.delete(path, headers=sched.as_tenant()),
    ):
        expect_problem(answer, 404)
    listed = await sched.kb.client.get("/v1/schedules", headers=sched.as_tenant())
    assert listed.json() == {"schedules": []}
    problem = expect_problem(await sched.post(workflow_id=theirs_workflow), 422)
    assert [e["name"] for e in problem["errors"]] == ["body.workflow_id"]
    still = await sched.kb.client.get(path, headers=sched.as_tenant("key-b"))
    assert still.status_code == 200 and still.json()["revision"] == 1


async def test_a_workflow_saved_through_the_api_can_be_scheduled(sched: Schedules) -> None:
    made = await sched.kb.client.post(
        "/v1/workflows",
        json={
            "name": "Monday digest",
            "triggerType": SCHEDULED,
            "nodes": [{"id": "t", "type": "trigger", "label": SCHEDULED, "config": {}}],
        },
        headers=sched.as_tenant(),
    )
    assert made.status_code == 201, made.text
    answer = await sched.post(workflow_id=made.json()["id"])
    assert answer.status_code == 201, answer.text
