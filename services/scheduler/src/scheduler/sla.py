"""The SLA keeper: a conversation's clocks announced when they are at risk and when they breach
(docs/architecture.md, *SLA clocks*).

The keeper is a consumer group of its own on the triggers topic (`-sla`), reading only the
tenants that have an active policy (by the `tenant_id` header, before decoding). A customer's
message makes its conversation kept: the keeper looks at it a moment later (`settle`: the
executor logs the message meanwhile) and then at the next instant one of its clocks crosses a
threshold. Looking is reckoning the clocks afresh from the conversation's document and message
log (clocks.conversations, as the gateway shows them), never accumulating, so a late or repeated
look announces exactly what a timely one would. While a clock waits on the customer its
crossing is unknown: the keeper looks again every `paused_recheck` seconds (a status the API
set is seen within that; the customer's next message is seen at once).

The partition is the lease, as for timers: the member of the group that owns a partition of the
triggers topic keeps the conversations whose messages are on it; a revocation waits for the
look in flight. An announcement is SlaClockCrossed (public, on the conversations topic) and a
TriggerReceived (`SLA At Risk` / `SLA Breached`, keyed by the conversation) whose id names the
clock's cycle and the threshold, so that a repeat after a crash starts no workflow twice; then
the crossing is recorded as announced."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from clocks.conversations import (
    aware,
    policy_for,
    priority_of,
    rules_of,
    timeline_of,
)
from clocks.sla import Clock, clocks
from contracts import Envelope, topics
from contracts.events import Event, SlaClockCrossed, TriggerReceived
from contracts.sla import SLA_AT_RISK, SLA_BREACHED, SlaPolicySpec, sla_trigger_id
from servicekit.delivery import Consumed
from servicekit.publisher import Publish

from scheduler import telemetry

Document = dict[str, Any]
Now = Callable[[], datetime]
SOURCE = "/connectflo/scheduler/sla"
MESSAGE_TRIGGERS = ("Incoming Message", "Incoming Call")  # what a customer's message starts
TRIGGER_OF = {"at_risk": SLA_AT_RISK, "breached": SLA_BREACHED}
GIVE_UP = timedelta(minutes=5)  # a message not logged by then is reckoned without
log = logging.getLogger(__name__)
Policies = list[tuple[str, SlaPolicySpec, datetime | None]]


class SlaStore(Protocol):
    async def tenants_with_policies(self) -> set[str]: ...
    async def policies(self, tenant_id: str) -> Policies: ...
    async def conversation(self, ref: str) -> Document | None: ...
    async def messages(self, tenant_id: str, conversation_id: str) -> list[Document]: ...
    async def active(self, partition: int) -> list[Document]: ...
    async def seen(
        self,
        ref: str,
        *,
        tenant_id: str,
        conversation_id: str,
        partition: int,
        at: datetime,
        check_at: datetime,
    ) -> Document: ...
    async def checked(
        self, ref: str, *, announced: list[str], next_check_at: datetime | None, now: datetime
    ) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class SlaKeeper:
    def __init__(
        self,
        store: SlaStore,
        publish: Publish,
        *,
        settle_seconds: float = 2.0,
        paused_recheck_seconds: float = 30.0,
        policies_seconds: float = 5.0,
        retry_seconds: float = 1.0,
        clock: Now = utc_now,
    ) -> None:
        self._store = store
        self._publish = publish
        self._settle = timedelta(seconds=settle_seconds)
        self._paused_recheck = timedelta(seconds=paused_recheck_seconds)
        self._policies_ttl = policies_seconds
        self._retry = timedelta(seconds=retry_seconds)
        self._clock = clock
        self._turn = asyncio.Lock()  # looks and (re)assignments take turns
        self._owned: set[int] = set()
        self._kept: dict[str, Document] = {}  # ref -> its sla_clocks document
        self._agenda: list[tuple[datetime, str]] = []  # (when, ref), a heap; stale entries skipped
        self._tenants: tuple[float, set[str]] = (0.0, set())
        self._policies: dict[str, tuple[float, Policies]] = {}
        self.wake = asyncio.Event()

    # -- the consumer ---------------------------------------------------------------------

    async def select(self, records: list[Consumed]) -> list[Consumed]:
        """The records of tenants with an active policy; the others cost no decoding. A batch
        naming a tenant not known to have one reads the set again (one small query per batch;
        the consumer fetches in large batches): a policy made just before a message counts."""
        named = {r.headers.get("tenant_id", "") for r in records}
        tenants = await self._tenants_with_policies(fresh=not named <= self._tenants[1])
        return [r for r in records if r.headers.get("tenant_id", "") in tenants]

    async def on_trigger(self, envelope: Envelope[Event], record: Consumed) -> None:
        trigger = envelope.data
        if not isinstance(trigger, TriggerReceived) or not trigger.conversation_id:
            return
        if trigger.trigger_type not in MESSAGE_TRIGGERS:
            return  # the keeper's own SLA triggers, orders, schedules: no customer wrote
        if trigger.message is None and trigger.trigger_type != "Incoming Message":
            return  # (a message posted to the API is logged from its payload: it counts)
        ref = f"{trigger.tenant_id}:{trigger.conversation_id}"
        check_at = max(trigger.received_at, self._clock()) + self._settle
        stored = await self._store.seen(
            ref,
            tenant_id=trigger.tenant_id,
            conversation_id=trigger.conversation_id,
            partition=record.partition,
            at=trigger.received_at,
            check_at=check_at,
        )
        async with self._turn:
            if record.partition in self._owned:
                # kept already, or as stored: what was announced before is not announced again
                doc = self._kept.setdefault(
                    ref,
                    {
                        **stored,
                        "_id": ref,
                        "tenant_id": trigger.tenant_id,
                        "conversation_id": trigger.conversation_id,
                        "partition": record.partition,
                        "announced": list(stored.get("announced") or []),
                    },
                )
                doc["seen_inbound_at"] = max(
                    aware(doc.get("seen_inbound_at")) or trigger.received_at, trigger.received_at
                )
                self._plan(ref, check_at)

    async def partitions_assigned(self, partitions: set[int]) -> None:
        async with self._turn:
            for partition in sorted(partitions - self._owned):
                for doc in await self._store.active(partition):
                    self._kept[doc["_id"]] = doc
                    self._plan(doc["_id"], aware(doc.get("next_check_at")) or self._clock())
            self._owned |= partitions
            telemetry.SLA_KEPT.set(len(self._kept))
        self.wake.set()

    async def partitions_revoked(self, partitions: set[int]) -> None:
        async with self._turn:  # after the look in flight
            self._owned -= partitions
            for ref in [r for r, d in self._kept.items() if d.get("partition") in partitions]:
                del self._kept[ref]
            telemetry.SLA_KEPT.set(len(self._kept))

    # -- looking --------------------------------------------------------------------------

    def _plan(self, ref: str, at: datetime) -> None:
        doc = self._kept[ref]
        planned = doc.get("_planned")
        if planned is not None and planned <= at:
            return  # an earlier look is planned: it plans the next
        doc["_planned"] = at
        heapq.heappush(self._agenda, (at, ref))
        self.wake.set()

    async def look_due(self) -> int:
        """Look at every kept conversation whose time has come; the number looked at."""
        looked = 0
        while self._agenda and self._agenda[0][0] <= self._clock():
            at, ref = heapq.heappop(self._agenda)
            async with self._turn:
                doc = self._kept.get(ref)
                if doc is None or doc.get("_planned") != at:
                    continue  # forgotten, or planned again
                doc["_planned"] = None
                try:
                    await self.look(doc)
                except Exception:
                    log.exception("SLA clocks of %s not reckoned; again in %s", ref, self._retry)
                    self._plan(ref, self._clock() + self._retry)
                looked += 1
        return looked

    async def look(self, doc: Document) -> None:
        """Reckon a conversation's clocks, announce what they crossed, plan the next look."""
        ref, tenant = doc["_id"], doc["tenant_id"]
        now = self._clock()
        started = time.perf_counter()
        conversation = await self._store.conversation(ref)
        if conversation is None or _not_logged_yet(doc, conversation):
            seen = aware(doc.get("seen_inbound_at")) or now
            if now - seen < GIVE_UP:
                self._plan(ref, now + self._settle)  # the executor logs the message meanwhile
                return
            log.warning("conversation %s: its message of %s was never logged", ref, seen)
            conversation = conversation or {}
        policies = await self._tenant_policies(tenant)
        chosen = policy_for([(i, s) for i, s, _ in policies], conversation.get("channel"))
        announced = list(doc.get("announced") or [])
        next_check: datetime | None = None
        if chosen is not None:
            policy_id, spec = chosen
            made = next((aware(m) for i, _, m in policies if i == policy_id), None)
            channel, priority = conversation.get("channel"), priority_of(conversation)
            messages = await self._store.messages(tenant, doc["conversation_id"])
            timeline = timeline_of(conversation, messages, spec.replies_that_count)
            for clock in clocks(rules_of(spec, priority, channel), timeline, now):
                if made is not None and clock.started_at < made:
                    continue  # counted from before the policy existed
                for kind in clock.crossed(now):
                    key = f"{clock.key}:{kind}"
                    if key not in announced:
                        await self._announce(doc, conversation, policy_id, spec, clock, kind, now)
                        announced.append(key)
                upcoming = _next_look(clock, announced, now, self._paused_recheck)
                if upcoming is not None and (next_check is None or upcoming < next_check):
                    next_check = upcoming
        await self._store.checked(ref, announced=announced, next_check_at=next_check, now=now)
        doc["announced"] = announced
        telemetry.SLA_LOOKS.inc()
        telemetry.SLA_LOOK_SECONDS.observe(time.perf_counter() - started)
        if next_check is None:
            self._kept.pop(ref, None)  # a customer's next message keeps it again
            telemetry.SLA_KEPT.set(len(self._kept))
        else:
            self._plan(ref, next_check)

    async def _announce(
        self,
        doc: Document,
        conversation: Document,
        policy_id: str,
        spec: SlaPolicySpec,
        clock: Clock,
        kind: str,
        now: datetime,
    ) -> None:
        crossed_at = clock.at_risk_at if kind == "at_risk" else clock.breach_at
        assert crossed_at is not None
        trigger_id = sla_trigger_id(doc["_id"], clock.key, kind)
        channel, priority = conversation.get("channel"), priority_of(conversation)
        event = SlaClockCrossed(
            crossing_id=trigger_id,
            tenant_id=doc["tenant_id"],
            conversation_id=doc["conversation_id"],
            channel=channel,
            priority=priority,
            kind="at_risk" if kind == "at_risk" else "breached",
            policy_id=policy_id,
            policy_name=spec.name,
            metric=clock.metric,
            target_seconds=clock.target_seconds,
            elapsed_seconds=round(clock.elapsed_seconds, 3),
            overrun_seconds=round(clock.overrun_seconds, 3),
            started_at=clock.started_at,
            crossed_at=crossed_at,
            due_at=clock.breach_at,
            announced_at=now,
        )
        trigger = TriggerReceived(
            trigger_id=trigger_id,
            tenant_id=doc["tenant_id"],
            trigger_type=TRIGGER_OF[kind],
            conversation_id=doc["conversation_id"],
            channel=channel,
            payload={
                "conversationId": doc["conversation_id"],
                "policy": clock.metric,
                "metric": clock.metric,
                "policyId": policy_id,
                "policyName": spec.name,
                "kind": kind,
                "priority": priority,
                "channel": channel,
                "targetSeconds": clock.target_seconds,
                "elapsedSeconds": event.elapsed_seconds,
                "overrunSeconds": event.overrun_seconds,
                "waitedMinutes": round(clock.elapsed_seconds / 60, 1),
                "startedAt": clock.started_at.isoformat(),
                "crossedAt": crossed_at.isoformat(),
                "dueAt": clock.breach_at.isoformat() if clock.breach_at else None,
            },
            received_at=now,
        )
        key = doc["conversation_id"].encode()
        for message, topic in ((event, topics.CONVERSATIONS), (trigger, topics.TRIGGERS)):
            out = Envelope.wrap(
                message, source=SOURCE, tenant_id=doc["tenant_id"], **telemetry.current_trace()
            )
            await self._publish(out.body(), topic, key, out.headers())
        telemetry.SLA_CROSSINGS.labels(kind, clock.metric).inc()
        telemetry.SLA_ANNOUNCE_LATENESS.observe(max(0.0, (now - crossed_at).total_seconds()))

    async def run(self) -> None:
        """Look at conversations as their times come, until cancelled."""
        while True:
            self.wake.clear()
            try:
                await self.look_due()
            except Exception:  # look_due keeps its own failures; this is a bug's safety net
                log.exception("the SLA keeper's pass failed")
            delay = 30.0
            if self._agenda:
                delay = min(delay, max(0.0, (self._agenda[0][0] - self._clock()).total_seconds()))
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), delay)

    async def _tenants_with_policies(self, *, fresh: bool = False) -> set[str]:
        read_at, tenants = self._tenants
        if fresh or time.monotonic() - read_at > self._policies_ttl:
            tenants = await self._store.tenants_with_policies()
            self._tenants = (time.monotonic(), tenants)
        return tenants

    async def _tenant_policies(self, tenant: str) -> Policies:
        read_at, policies = self._policies.get(tenant, (0.0, []))
        if time.monotonic() - read_at > self._policies_ttl:
            policies = await self._store.policies(tenant)
            self._policies[tenant] = (time.monotonic(), policies)
        return policies


def _not_logged_yet(doc: Document, conversation: Document) -> bool:
    """The customer's latest message the keeper saw is newer than the conversation's last
    inbound time (MongoDB keeps milliseconds: a microsecond trigger time is as new)."""
    seen = aware(doc.get("seen_inbound_at"))
    logged = aware(conversation.get("last_inbound_at"))
    return seen is not None and (logged is None or logged < seen - timedelta(milliseconds=1))


def _next_look(
    clock: Clock, announced: list[str], now: datetime, paused_recheck: timedelta
) -> datetime | None:
    """When this clock needs looking at again: its next crossing not yet announced; while it
    waits on the customer (its crossings unknown), a recheck; never once it is done."""
    pending = [
        at
        for kind, at in (("at_risk", clock.at_risk_at), ("breached", clock.breach_at))
        if f"{clock.key}:{kind}" not in announced and (at is None or at > now)
    ]
    if not pending or clock.stopped_at is not None:
        return None
    known = [at for at in pending if at is not None]
    if known:
        return min(known)
    return now + paused_recheck if clock.state == "paused" else None
