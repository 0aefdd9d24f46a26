"""Durable timers: stored when requested, fired once when due (late, never lost, after a
crash), as an EffectSettled command to the waiting execution."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from contracts import Envelope, topics
from contracts.events import EffectSettled, TimerRequested

from scheduler.adapters.store import Document, TimerRepository

SOURCE = "/connectflo/scheduler"
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]
log = logging.getLogger(__name__)


class TimerService:
    def __init__(self, timers: TimerRepository, publish: Publish, *, owner: str) -> None:
        self._timers = timers
        self._publish = publish
        self._owner = owner
        self._wake = asyncio.Event()

    async def on_timer_requested(self, envelope: Envelope[TimerRequested]) -> None:
        request = envelope.data
        await self._timers.add(
            {
                "_id": request.idempotency_key,
                "tenant_id": request.tenant_id,
                "execution_id": request.execution_id,
                "effect_id": request.effect_id,
                "node_id": request.node_id,
                "fire_at": request.fire_at,
                "status": "pending",
                "claimed_at": None,
                "traceparent": envelope.traceparent,
                "created_at": datetime.now(UTC),
            }
        )
        self._wake.set()

    async def fire_due(self, limit: int = 200) -> int:
        """Fire every timer that is due now; the number fired."""
        now = datetime.now(UTC)
        fired = 0
        for timer in await self._timers.due(now, limit):
            if not await self._timers.claim(timer, self._owner, now):
                continue
            await self._settle(timer, now)
            await self._timers.mark_fired(timer["_id"], now)
            fired += 1
        return fired

    async def run(self, poll_seconds: float) -> None:
        """Fire due timers until cancelled; a new timer wakes the loop early."""
        while True:
            try:
                await self.fire_due()
            except Exception:
                log.exception("firing timers failed; retrying")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll_seconds)

    async def _settle(self, timer: Document, now: datetime) -> None:
        event = EffectSettled(
            command_id="settle:" + timer["_id"],
            execution_id=timer["execution_id"],
            tenant_id=timer["tenant_id"],
            effect_id=timer["effect_id"],
            idempotency_key=timer["_id"],
            result={"fired_at": now.isoformat(), "due_at": timer["fire_at"].isoformat()},
        )
        out = Envelope.wrap(
            event, source=SOURCE, tenant_id=timer["tenant_id"], traceparent=timer.get("traceparent")
        )
        await self._publish(
            out.body(), topics.EXECUTION_COMMANDS, timer["execution_id"].encode(), out.headers()
        )
