"""How fast, how many at once, and in whose turn calls go out.

- **Per connection**: the provider's limit as a leaky bucket (aiolimiter's ``AsyncLimiter``:
  ``rate`` calls per ``per_seconds``, bursts up to ``burst``) and a cap on calls in flight
  (``concurrency``). The type's documented defaults, or the connection's own ``limits``.
- **Across the service**: at most ``slots`` calls in flight, and when calls wait for a slot,
  tenants take turns (round robin), so a tenant with a long backlog gets one call in per turn
  like everyone else.

- **Per tenant, before anything**: at most ``per_tenant`` requests of one tenant being worked on
  (their call records read and written, their connection resolved, their call made); the rest
  of its backlog waits as parked tasks that cost no I/O. Without it a tenant's flood of 10,000
  requests read at once puts 10,000 record writes in the database pool's queue ahead of another
  tenant's one (measured: B's p99 from 84 ms to 14 s, bench/fairness.py).

A call takes its connection's lane first (cap, then a token) and a slot last, so calls that
wait for their provider's rate hold no slot: one tenant's rate-limited backlog waits in its
own lane and delays nobody else. Every attempt of a retried call goes through again."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiolimiter import AsyncLimiter
from contracts.connections import Limits


class TenantAdmission:
    """At most ``per_tenant`` holders per tenant, each tenant's waiters in arrival order."""

    def __init__(self, per_tenant: int) -> None:
        self._per_tenant = per_tenant
        self._tenants: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}  # sem, [users]

    @property
    def tenants(self) -> int:
        """Tenants with a call admitted or waiting (a tenant with none is forgotten)."""
        return len(self._tenants)

    @asynccontextmanager
    async def turn(self, tenant_id: str) -> AsyncIterator[None]:
        held = self._tenants.get(tenant_id)
        if held is None:
            held = self._tenants[tenant_id] = (asyncio.Semaphore(self._per_tenant), [0])
        semaphore, users = held
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._tenants[tenant_id]


class FairGate:
    """At most ``slots`` holders; waiters served tenant by tenant in turn, each tenant's own
    waiters in arrival order."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    @asynccontextmanager
    async def turn(self, tenant_id: str) -> AsyncIterator[None]:
        await self._acquire(tenant_id)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, tenant_id: str) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(tenant_id, deque()).append(future)
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._release()  # granted as it was cancelled: pass the slot on
            else:
                queue = self._waiting.get(tenant_id)
                if queue is not None and future in queue:
                    queue.remove(future)
                    if not queue:
                        del self._waiting[tenant_id]
            raise

    def _release(self) -> None:
        while self._waiting:
            tenant_id, queue = next(iter(self._waiting.items()))
            future = queue.popleft()
            if queue:
                self._waiting.move_to_end(tenant_id)  # this tenant's next waits its turn
            else:
                del self._waiting[tenant_id]
            if not future.done():
                future.set_result(None)  # the slot passes to it
                return
        self._free += 1


@dataclass
class _Lane:
    limits: Limits
    bucket: AsyncLimiter
    in_flight: asyncio.Semaphore


class Throttle:
    def __init__(self, slots: int) -> None:
        self.gate = FairGate(slots)
        self._lanes: dict[str, _Lane] = {}

    @asynccontextmanager
    async def slot(self, connection_id: str, tenant_id: str, limits: Limits) -> AsyncIterator[None]:
        """Hold this while the call is in flight."""
        lane = self._lane(connection_id, limits)
        async with lane.in_flight:
            await lane.bucket.acquire()
            async with self.gate.turn(tenant_id):
                yield

    def _lane(self, connection_id: str, limits: Limits) -> _Lane:
        lane = self._lanes.get(connection_id)
        if lane is None or lane.limits != limits:  # new, or its limits were changed
            burst = limits.burst or max(1, round(limits.rate * limits.per_seconds))
            # aiolimiter: `max_rate` tokens per `time_period`, the bucket `max_rate` deep
            period = burst * limits.per_seconds / limits.rate
            lane = _Lane(limits, AsyncLimiter(burst, period), asyncio.Semaphore(limits.concurrency))
            self._lanes[connection_id] = lane
        return lane
