"""SlaKeeper: a customer's message keeps its conversation; its clocks are reckoned from the
stored timeline and each crossing (at risk, breached) announced once, on time; a clock waiting
on the customer is looked at again; a partition given up is forgotten."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope, topics
from contracts.events import InboundMessage, SlaClockCrossed, TriggerReceived
from contracts.sla import SlaPolicySpec, SlaTarget
from scheduler.sla import SlaKeeper
from servicekit.delivery import Consumed

NOW = datetime(2030, 1, 7, 10, 0, tzinfo=UTC)  # a Monday
REF = "ten_1:cnv_1"
POLICY = SlaPolicySpec(
    name="Standard",
    targets=[
        SlaTarget(metric="first_response", seconds=600),
        SlaTarget(metric="resolution", seconds=3600),
    ],
    at_risk_fraction=0.5,
)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class Store:
    def __init__(self) -> None:
        self.policies_: list[tuple[str, SlaPolicySpec, datetime | None]] = [
            ("slp_1", POLICY, NOW - timedelta(days=1))
        ]
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages_: list[dict[str, Any]] = []
        self.clocks: dict[str, dict[str, Any]] = {}
        self.tenants = {"ten_1"}
        self.tenant_reads = 0

    async def tenants_with_policies(self) -> set[str]:
        self.tenant_reads += 1
        return set(self.tenants)

    async def policies(self, tenant_id: str) -> list[tuple[str, SlaPolicySpec, datetime | None]]:
        return self.policies_ if tenant_id == "ten_1" else []

    async def conversation(self, ref: str) -> dict[str, Any] | None:
        return self.conversations.get(ref)

    async def messages(self, tenant_id: str, conversation_id: str) -> list[dict[str, Any]]:
        return list(self.messages_)

    async def active(self, partition: int) -> list[dict[str, Any]]:
        return [
            dict(d) for d in self.clocks.values() if d["partition"] == partition and d["active"]
        ]

    async def seen(self, ref: str, **fields: Any) -> dict[str, Any]:
        doc = self.clocks.setdefault(ref, {"_id": ref, "announced": []})
        doc.update(
            tenant_id=fields["tenant_id"],
            conversation_id=fields["conversation_id"],
            partition=fields["partition"],
            active=True,
            next_check_at=fields["check_at"],
            seen_inbound_at=fields["at"],
        )
        return dict(doc)

    async def checked(self, ref: str, **fields: Any) -> None:
        self.clocks[ref].update(
            announced=fields["announced"],
            active=fields["next_check_at"] is not None,
            next_check_at=fields["next_check_at"],
        )

    def customer_wrote(self, at: datetime, *, logged: bool = True) -> None:
        conversation = self.conversations.setdefault(
            REF, {"_id": REF, "channel": "sms", "status": "open", "status_log": []}
        )
        if logged:
            conversation["last_inbound_at"] = at.replace(tzinfo=None)  # as pymongo gives it
            self.messages_.append({"direction": "inbound", "created_at": at.replace(tzinfo=None)})


class Sent:
    def __init__(self) -> None:
        self.events: list[tuple[str, Any, bytes | None]] = []

    async def __call__(self, value: bytes, topic: str, key: bytes | None, headers: Any) -> None:
        self.events.append((topic, Envelope.parse(headers, value).data, key))

    def crossings(self) -> list[tuple[str, str]]:
        return [(e.metric, e.kind) for t, e, _ in self.events if isinstance(e, SlaClockCrossed)]

    def triggers(self) -> list[TriggerReceived]:
        return [e for t, e, _ in self.events if t == topics.TRIGGERS]


def message(at: datetime, partition: int = 2) -> tuple[Envelope[Any], Consumed]:
    trigger = TriggerReceived(
        trigger_id=f"tr_{at.timestamp()}",
        tenant_id="ten_1",
        trigger_type="Incoming Message",
        conversation_id="cnv_1",
        channel="sms",
        received_at=at,
        message=InboundMessage(contact_address="+15550100", body="hello?"),
    )
    envelope = Envelope.wrap(trigger, source="/test", tenant_id="ten_1")
    record = Consumed(topics.TRIGGERS, partition, 1, b"cnv_1", envelope.headers(), envelope.body())
    return envelope, record


async def started() -> tuple[SlaKeeper, Store, Sent, Clock]:
    store, sent, clock = Store(), Sent(), Clock()
    keeper = SlaKeeper(store, sent, settle_seconds=2, paused_recheck_seconds=30, clock=clock)
    await keeper.partitions_assigned({2})
    return keeper, store, sent, clock


async def at(keeper: SlaKeeper, clock: Clock, when: datetime) -> int:
    clock.now = when
    return await keeper.look_due()


async def test_each_crossing_is_announced_once_at_its_instant_with_its_trigger():
    keeper, store, sent, clock = await started()
    store.customer_wrote(NOW)
    await keeper.on_trigger(*message(NOW))

    assert await at(keeper, clock, NOW + timedelta(seconds=1)) == 0  # settling
    assert await at(keeper, clock, NOW + timedelta(seconds=2)) == 1
    assert sent.events == []
    await at(keeper, clock, NOW + timedelta(seconds=299))
    assert sent.crossings() == []
    await at(keeper, clock, NOW + timedelta(seconds=300))  # half of ten minutes
    assert sent.crossings() == [("first_response", "at_risk")]
    await at(keeper, clock, NOW + timedelta(seconds=600))
    await at(keeper, clock, NOW + timedelta(seconds=1800))
    await at(keeper, clock, NOW + timedelta(seconds=3600))
    assert sent.crossings() == [
        ("first_response", "at_risk"),
        ("first_response", "breached"),
        ("resolution", "at_risk"),
        ("resolution", "breached"),
    ]
    [*_, breach] = sent.triggers()
    assert breach.trigger_type == "SLA Breached" and breach.conversation_id == "cnv_1"
    assert breach.payload["policy"] == "resolution" and breach.payload["policyId"] == "slp_1"
    assert breach.payload["targetSeconds"] == 3600 and breach.payload["waitedMinutes"] == 60
    assert all(key == b"cnv_1" for _, _, key in sent.events)
    assert store.clocks[REF]["active"] is False  # nothing left to announce
    # a look repeated (a restart reads the document again) announces nothing again
    await keeper.partitions_revoked({2})
    store.clocks[REF].update(active=True, next_check_at=NOW)
    await keeper.partitions_assigned({2})
    await at(keeper, clock, NOW + timedelta(seconds=3700))
    assert len(sent.crossings()) == 4


async def test_a_reply_stops_the_first_response_clock_and_nothing_is_announced_for_it():
    keeper, store, sent, clock = await started()
    store.customer_wrote(NOW)
    store.messages_.append({"direction": "outbound", "created_at": NOW + timedelta(seconds=60)})
    await keeper.on_trigger(*message(NOW))
    for seconds in (2, 300, 600, 1800):
        await at(keeper, clock, NOW + timedelta(seconds=seconds))
    assert sent.crossings() == [("resolution", "at_risk")]


async def test_a_message_the_executor_has_not_logged_yet_is_waited_for():
    keeper, store, sent, clock = await started()
    store.customer_wrote(NOW, logged=False)
    await keeper.on_trigger(*message(NOW))
    await at(keeper, clock, NOW + timedelta(seconds=2))
    assert store.clocks[REF].get("announced") == []  # not reckoned: looked at again
    store.customer_wrote(NOW)
    await at(keeper, clock, NOW + timedelta(seconds=4))
    await at(keeper, clock, NOW + timedelta(seconds=300))
    assert sent.crossings() == [("first_response", "at_risk")]


async def test_waiting_on_the_customer_is_rechecked_and_announces_nothing_meanwhile():
    keeper, store, sent, clock = await started()
    store.customer_wrote(NOW)
    store.messages_.append({"direction": "outbound", "created_at": NOW + timedelta(seconds=10)})
    store.conversations[REF]["status_log"] = [
        {"status": "waiting_on_customer", "at": NOW + timedelta(seconds=10)}
    ]
    await keeper.on_trigger(*message(NOW))
    await at(keeper, clock, NOW + timedelta(seconds=2))  # the first response's at-risk next
    assert store.clocks[REF]["next_check_at"] == NOW + timedelta(seconds=300)
    await at(keeper, clock, NOW + timedelta(seconds=300))  # answered; resolution paused
    assert store.clocks[REF]["next_check_at"] == NOW + timedelta(seconds=330)  # a recheck
    await at(keeper, clock, NOW + timedelta(hours=5))
    assert sent.crossings() == []


async def test_a_partition_given_up_is_forgotten_and_other_tenants_cost_nothing():
    keeper, store, sent, clock = await started()
    store.customer_wrote(NOW)
    await keeper.on_trigger(*message(NOW))
    await keeper.partitions_revoked({2})
    await at(keeper, clock, NOW + timedelta(hours=2))
    assert sent.events == []
    _, other = message(NOW)
    foreign = Consumed(other.topic, 2, 2, other.key, {**other.headers, "tenant_id": "ten_2"}, b"")
    assert await keeper.select([other, foreign]) == [other]
    # a policy made after the conversation's clock started does not count it
    store.policies_ = [("slp_1", POLICY, NOW + timedelta(seconds=1))]
    await keeper.partitions_assigned({2})
    await at(keeper, clock, NOW + timedelta(hours=3))
    assert sent.events == []


async def test_a_new_message_after_everything_was_announced_announces_only_its_own_turn():
    keeper, store, sent, clock = await started()
    store.customer_wrote(NOW)
    await keeper.on_trigger(*message(NOW))
    for seconds in (2, 300, 600, 1800, 3600):
        await at(keeper, clock, NOW + timedelta(seconds=seconds))
    assert len(sent.crossings()) == 4 and store.clocks[REF]["active"] is False
    # the conversation is no longer kept; the customer writes again, an hour later
    later = NOW + timedelta(hours=2)
    store.messages_.append({"direction": "outbound", "created_at": later - timedelta(minutes=1)})
    store.customer_wrote(later)
    await keeper.on_trigger(*message(later))
    await at(keeper, clock, later + timedelta(seconds=2))
    assert len(sent.crossings()) == 4  # the old cycles' crossings are not announced again


async def test_a_policy_made_just_before_a_message_counts_it():
    keeper, store, _, _ = await started()
    store.tenants = set()
    _, record = message(NOW)
    assert await keeper.select([record]) == []
    store.tenants = {"ten_1"}  # the tenant's first policy, made a moment later
    assert await keeper.select([record]) == [record]  # read again: a tenant not known to have one
    reads = store.tenant_reads
    assert await keeper.select([record]) == [record] and store.tenant_reads == reads  # cached
