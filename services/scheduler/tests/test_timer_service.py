"""Timers fire once when due, late after downtime, never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts import Envelope
from contracts.events import EffectSettled, TimerRequested
from scheduler.service import TimerService


class MemoryTimers:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def add(self, doc: dict[str, Any]) -> bool:
        if doc["_id"] in self.docs:
            return False
        self.docs[doc["_id"]] = dict(doc)
        return True

    async def due(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        return [
            dict(d) for d in self.docs.values() if d["status"] == "pending" and d["fire_at"] <= now
        ][:limit]

    async def claim(self, doc: dict[str, Any], owner: str, now: datetime) -> bool:
        if self.docs[doc["_id"]]["status"] != doc["status"]:
            return False
        self.docs[doc["_id"]].update(status="firing", claimed_by=owner, claimed_at=now)
        return True

    async def mark_fired(self, timer_id: str, now: datetime) -> None:
        self.docs[timer_id].update(status="fired", fired_at=now)


def timer(key: str, fire_at: datetime) -> Envelope[TimerRequested]:
    event = TimerRequested(
        idempotency_key=key,
        execution_id="exe_1",
        tenant_id="ten_1",
        effect_id=key.split(":")[1],
        node_id="wait",
        fire_at=fire_at,
    )
    return Envelope.wrap(event, source="/test", tenant_id="ten_1")


async def test_due_timers_fire_once_and_future_ones_wait() -> None:
    sent: list[EffectSettled] = []

    async def publish(value: bytes, topic: str, key: bytes | None, headers: dict[str, str]) -> None:
        sent.append(Envelope.parse(headers, value).data)  # type: ignore[arg-type]

    timers = MemoryTimers()
    service = TimerService(timers, publish, owner="test")  # type: ignore[arg-type]
    now = datetime.now(UTC)
    await service.on_timer_requested(timer("exe_1:past:1", now - timedelta(hours=1)))
    await service.on_timer_requested(timer("exe_1:past:1", now - timedelta(hours=1)))  # again
    await service.on_timer_requested(timer("exe_1:future:1", now + timedelta(hours=1)))

    assert await service.fire_due() == 1
    assert await service.fire_due() == 0
    assert [s.effect_id for s in sent] == ["past"]
    assert sent[0].result is not None and "fired_at" in sent[0].result
    assert timers.docs["exe_1:future:1"]["status"] == "pending"
