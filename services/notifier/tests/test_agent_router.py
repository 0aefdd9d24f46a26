"""The agent router on the in-memory MongoDB: assignments exactly once, never past capacity,
queued by priority and assigned when an agent frees up; takeovers and closes stop the bot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from contracts import Envelope, topics
from contracts.events import (
    ConversationAssigned,
    EffectSettled,
    ExecutionCancelRequested,
    NotificationRequested,
    RoutingChanged,
)
from notifier.adapters.agents import AgentBoardStore
from notifier.routing import AgentRouter, agent_notice

TENANT = "ten_1"
Published = list[tuple[str, bytes, Any]]


def _agent(agent_id: str, capacity: int = 2, **fields: Any) -> dict[str, Any]:
    return {
        "_id": f"{TENANT}:{agent_id}",
        "tenant_id": TENANT,
        "agent_id": agent_id,
        "name": agent_id.title(),
        "capacity": capacity,
        "status": "online",
        **fields,
    }


class Router:
    def __init__(self, db: Any, *agents: dict[str, Any]) -> None:
        self.db = db
        for a in agents:
            self.db.agents.docs[a["_id"]] = a
        members = [a["agent_id"] for a in agents]
        self.db.queues.docs[f"{TENANT}:support"] = {
            "_id": f"{TENANT}:support",
            "tenant_id": TENANT,
            "queue_id": "support",
            "members": members,
        }
        self.published: list[tuple[str, Any]] = []
        self.router = AgentRouter(AgentBoardStore(self.db), self._publish)  # type: ignore[arg-type]

    async def _publish(self, value: bytes, topic: str, key: bytes, headers: Any) -> None:
        self.published.append((topic, value))

    async def send(self, *events: Any) -> None:
        await self.router.on_batch(
            [Envelope.wrap(e, source="/test", tenant_id=TENANT) for e in events]
        )

    def settled(self) -> list[EffectSettled]:
        import json

        return [
            EffectSettled.model_validate(json.loads(v))
            for t, v in self.published
            if t == topics.EXECUTION_COMMANDS and b'"effect_id"' in v
        ]

    def assignments(self, status: str) -> list[dict[str, Any]]:
        return [a for a in self.db.assignments.docs.values() if a["status"] == status]


def assign(n: int, *, kind: str = "action.assign_agent", **request: Any) -> NotificationRequested:
    return NotificationRequested(
        idempotency_key=f"exe_{n}:assign:1:1",
        execution_id=f"exe_{n}",
        tenant_id=TENANT,
        effect_id="assign:1:1",
        node_id="assign",
        kind=kind,
        channel="chat",
        conversation_id=f"cnv_{n}",
        request={"queue": "support", "strategy": "round_robin", **request},
    )


async def test_fifty_concurrent_requests_never_pass_capacity_and_each_is_assigned_once(
    memory_db: Any,
) -> None:
    router = Router(memory_db, _agent("ann", 5), _agent("bob", 5), _agent("cy", 5))
    await router.send(*(assign(n) for n in range(50)))
    active = router.assignments("active")
    by_agent: dict[str, int] = {}
    for a in active:
        by_agent[a["agent_id"]] = by_agent.get(a["agent_id"], 0) + 1
    assert by_agent == {"ann": 5, "bob": 5, "cy": 5}
    assert len(router.assignments("queued")) == 35
    assert len({a["conversation_id"] for a in router.db.assignments.docs.values()}) == 50
    results = [s.result for s in router.settled()]
    assert sorted(r["status"] for r in results if r) == ["assigned"] * 15 + ["queued"] * 35  # type: ignore[index]
    conversation = router.db.conversations.docs  # the executor created none here: no upsert
    assert conversation == {}

    router.published.clear()
    await router.send(*(assign(n) for n in range(50)))  # redelivered
    assert len(router.db.assignments.docs) == 50 and len(router.assignments("active")) == 15
    assert len(router.settled()) == 50  # answered again, as the first time


async def test_a_release_gives_the_agent_the_most_urgent_queued_conversation(
    memory_db: Any,
) -> None:
    router = Router(memory_db, _agent("ann", 1))
    await router.send(assign(1), assign(2), assign(3, priority="urgent"))
    assert [a["conversation_id"] for a in router.assignments("active")] == ["cnv_1"]
    now = datetime.now(UTC)
    release = RoutingChanged(
        change_id="r1", tenant_id=TENANT, change="released", conversation_id="cnv_1", at=now
    )
    await router.send(release)
    assert [a["conversation_id"] for a in router.assignments("active")] == ["cnv_3"]
    assert [a["conversation_id"] for a in router.assignments("queued")] == ["cnv_2"]


async def test_an_agent_coming_online_takes_the_queue(memory_db: Any) -> None:
    router = Router(memory_db, _agent("ann", 1, status="away"))
    await router.send(assign(1))
    assert router.settled()[0].result["status"] == "queued"  # type: ignore[index]
    router.db.agents.docs[f"{TENANT}:ann"]["status"] = "online"
    await router.send(
        RoutingChanged(
            change_id="c1",
            tenant_id=TENANT,
            change="agent_available",
            agent_id="ann",
            at=datetime.now(UTC),
        )
    )
    assert [a["agent_id"] for a in router.assignments("active")] == ["ann"]


async def test_an_unknown_queue_is_a_typed_error(memory_db: Any) -> None:
    router = Router(memory_db, _agent("ann"))
    await router.send(assign(1, queue="nope"))
    (settled,) = router.settled()
    assert settled.error is not None and settled.error["type"] == "QueueUnknown"
    assert settled.error["retryable"] is False


async def test_a_handoff_expires_when_the_executors_timer_fires(memory_db: Any) -> None:
    router = Router(memory_db, _agent("ann"))
    fires = datetime(2026, 12, 2, 10, 0, 4, tzinfo=UTC)
    late = {"timeoutSeconds": 4, "deadline": fires.isoformat()}
    await router.send(assign(1, kind="advanced.human_handoff", requireApproval=True, **late))
    (handoff,) = router.db.handoffs.docs.values()
    assert handoff["deadline"] == fires  # not the router's clock plus the timeout


@pytest.mark.parametrize("approval", [False, True])
async def test_a_handoff_waits_for_a_person_and_a_takeover_stops_the_bot(
    memory_db: Any, approval: bool
) -> None:
    router = Router(memory_db, _agent("ann"))
    router.db.conversations.docs[f"{TENANT}:cnv_1"] = {
        "_id": f"{TENANT}:cnv_1",
        "status": "bot",
        "active_runs": {"wf_a": "exe_1", "wf_b": "exe_other"},
    }
    request: dict[str, Any] = {"reason": "refund over 50", "timeoutSeconds": 60}
    if approval:
        request.update(requireApproval=True, approvers=["ann"], approval={"draft": "ok?"})
    await router.send(assign(1, kind="advanced.human_handoff", **request))
    assert router.settled() == []  # the person decides, later
    (handoff,) = router.db.handoffs.docs.values()
    assert handoff["kind"] == ("approval" if approval else "takeover")
    assert handoff["status"] == "open" and handoff["deadline"] is not None
    conversation = router.db.conversations.docs[f"{TENANT}:cnv_1"]
    cancels = [v for t, v in router.published if t == topics.EXECUTION_COMMANDS]
    if approval:
        assert conversation["status"] == "bot" and cancels == []
    else:
        assert conversation["status"] == "with_agent" and conversation["assignee"] == "ann"
        assert conversation["handoff"]["execution_id"] == "exe_1"
        (cancel,) = cancels
        assert ExecutionCancelRequested.model_validate_json(cancel).execution_id == "exe_other"


async def test_the_assignment_is_public_and_the_agent_is_told_on_their_channel(
    memory_db: Any,
) -> None:
    router = Router(memory_db, _agent("ann", notify={"channel": "slack", "target": "U123"}))
    await router.send(assign(1))
    published = {topic: value for topic, value in router.published}
    assigned = ConversationAssigned.model_validate_json(published[topics.CONVERSATIONS])
    assert (assigned.agent_id, assigned.conversation_id) == ("ann", "cnv_1")
    notice = NotificationRequested.model_validate_json(published[topics.NOTIFICATION_REQUESTS])
    assert notice.kind == "integration.slack" and notice.request["params"]["channel"] == "U123"
    assert notice.awaits_result is False


def test_an_agent_without_a_channel_is_told_by_the_tenants_webhooks_only() -> None:
    assignment = {"_id": "asg_1", "conversation_id": "c", "tenant_id": TENANT, "execution_id": "e"}
    assert agent_notice(assignment, {"agent_id": "ann"}) is None
    email = agent_notice(assignment, {"email": "ann@example.com", "notify": {"channel": "email"}})
    assert email is not None and email.request["to"] == ["ann@example.com"]


async def test_assigning_a_conversation_again_ends_its_earlier_assignment(memory_db: Any) -> None:
    router = Router(memory_db, _agent("ann", 2), _agent("bob", 2))
    router.db.conversations.docs[f"{TENANT}:cnv_1"] = {"_id": f"{TENANT}:cnv_1"}
    again = assign(1).model_copy(update={"idempotency_key": "exe_9:assign:1:1"})
    await router.send(assign(1))
    await router.send(again)
    (active,) = router.assignments("active")
    assert active["idempotency_key"] == "exe_9:assign:1:1"
    assert [a["release_reason"] for a in router.assignments("released")] == ["reassigned"]
    release = RoutingChanged(
        change_id="r9",
        tenant_id=TENANT,
        change="released",
        conversation_id="cnv_1",
        reason="closed",
        at=datetime.now(UTC),
    )
    await router.send(release)
    conversation = router.db.conversations.docs[f"{TENANT}:cnv_1"]
    assert conversation["assignment"]["status"] == "released"
    assert router.assignments("active") == []


@pytest.mark.parametrize("kind", ["action.assign_agent", "advanced.human_handoff"])
async def test_a_request_twice_in_one_batch_is_decided_once(memory_db: Any, kind: str) -> None:
    router = Router(memory_db, _agent("ann", 5))
    request = assign(1, kind=kind)
    await router.send(request, request)
    assert len(router.db.assignments.docs) == 1  # a takeover is an assignment too
    assert len(router.db.handoffs.docs) == (0 if kind == "action.assign_agent" else 1)
    assert len(router.settled()) == (2 if kind == "action.assign_agent" else 0)
