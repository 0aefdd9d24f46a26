"""The tenants' webhook endpoints, as the gateway stores them (``webhook_endpoints``, ``_id`` =
``whk_...``: tenant, url, event types, active, the signing secret sealed for the tenant and
purpose ``webhook.secret``, created/updated, why it was disabled).

The consumer asks for a tenant's endpoints with every batch: they are kept ``ttl_seconds``
(a new or changed endpoint is seen within that time), one equality read per tenant. The
secret is opened only to sign an attempt, held as a ``Secret`` and never logged."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from servicekit.sealing import Keyring, KeyringError, Sealed, Secret

Document = dict[str, Any]
WEBHOOK_SECRET = "webhook.secret"
"""The purpose the gateway seals an endpoint's secret for (trigger_gateway.adapters.webhooks)."""
MAX_CACHED_TENANTS = 10_000


class WebhookEndpoints:
    def __init__(
        self, db: AsyncDatabase[Document], keyring: Keyring | None, *, ttl_seconds: float = 1.0
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._ttl = ttl_seconds
        self._known: dict[str, tuple[list[Document], float]] = {}

    async def ensure_indexes(self) -> None:
        """The gateway makes them too; whichever starts first."""
        await self._db.webhook_endpoints.create_index(
            [("tenant_id", ASCENDING), ("created_at", ASCENDING)]
        )

    async def of_tenants(self, tenants: Iterable[str]) -> dict[str, list[Document]]:
        """Each tenant's endpoints (without their secrets), read at once for those not kept."""
        now = time.monotonic()
        wanted = set(tenants)
        stale = [t for t in wanted if (kept := self._known.get(t)) is None or kept[1] <= now]
        if stale:
            found = await asyncio.gather(*(self._read(t) for t in stale))
            if len(self._known) >= MAX_CACHED_TENANTS:
                self._known.clear()
            for tenant, docs in zip(stale, found, strict=True):
                self._known[tenant] = (docs, now + self._ttl)
        return {t: self._known[t][0] for t in wanted}

    async def _read(self, tenant: str) -> list[Document]:
        cursor = self._db.webhook_endpoints.find({"tenant_id": tenant}, projection={"secret": 0})
        return [doc async for doc in cursor]

    async def get(self, endpoint_id: str) -> Document | None:
        """The endpoint as it is now (with its sealed secret), for an attempt."""
        doc: Document | None = await self._db.webhook_endpoints.find_one({"_id": endpoint_id})
        return doc

    def secret_of(self, endpoint: Document) -> Secret:
        """The endpoint's signing secret; servicekit.sealing.SealingError when it does not
        open (no KEK, or not the one it was sealed with)."""
        if self._keyring is None:
            raise KeyringError("no KEK configured: webhook secrets cannot be opened")
        sealed = Sealed.from_document(endpoint["secret"])
        return self._keyring.open(sealed, tenant_id=endpoint["tenant_id"], purpose=WEBHOOK_SECRET)

    async def disable(self, endpoint_id: str, reason: str, now: datetime) -> None:
        """The receiver said 410 Gone: no more events until the tenant activates it again."""
        await self._db.webhook_endpoints.update_one(
            {"_id": endpoint_id},
            {"$set": {"active": False, "disabled_reason": reason, "disabled_at": now}},
        )
        self._known.clear()
