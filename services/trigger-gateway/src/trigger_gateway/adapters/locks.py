"""Short locks (`resource_locks`) around changes that read a document, decide and write it
back: a workflow's attachments against its plan's limit, a document's re-index, an AI
configuration's or the classification settings' revision.

A conditional update would do on MongoDB, but FerretDB 1.x updates are not an atomic
compare-and-set (docs/architecture.md, *Delivery guarantees*): two updates of one document at
once both match and the later write wins, so two attaches could both pass the limit's check
and one of them be lost. An insert under a unique `_id` is atomic on both, so a lock is its
key inserted: `_id` the key, `holder` (random), `expires_at`. The holder deletes it; a lock
whose holder died is taken over once it expires (HOLD_SECONDS). A caller that cannot take
it within WAIT_SECONDS gets Busy (answered 503 with Retry-After)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

Document = dict[str, Any]
LOCKS = "resource_locks"
WAIT_SECONDS = 5.0
HOLD_SECONDS = 30.0


class Busy(Exception):
    """Another change of the same thing did not finish within the wait."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key} is being changed by another request")
        self.key = key


class Locks:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        wait_seconds: float = WAIT_SECONDS,
        hold_seconds: float = HOLD_SECONDS,
    ) -> None:
        self._locks = db[LOCKS]
        self._wait = wait_seconds
        self._hold = timedelta(seconds=hold_seconds)

    @asynccontextmanager
    async def held(self, key: str) -> AsyncIterator[None]:
        """The lock of ``key`` for the block; Busy when it stays taken for the wait."""
        holder = secrets.token_hex(8)
        await self._take(key, holder)
        try:
            yield
        finally:
            await self._locks.delete_one({"_id": key, "holder": holder})

    async def _take(self, key: str, holder: str) -> None:
        deadline = time.monotonic() + self._wait
        pause = 0.005
        while True:
            now = datetime.now(UTC)
            try:
                await self._locks.insert_one(
                    {"_id": key, "holder": holder, "expires_at": now + self._hold}
                )
                return
            except DuplicateKeyError:
                pass
            current = await self._locks.find_one({"_id": key})
            if current is not None and current["expires_at"] <= now:  # its holder died
                await self._locks.delete_one({"_id": key, "holder": current["holder"]})
                continue
            if time.monotonic() >= deadline:
                raise Busy(key)
            await asyncio.sleep(pause * (1 + random.random()))
            pause = min(pause * 2, 0.1)
