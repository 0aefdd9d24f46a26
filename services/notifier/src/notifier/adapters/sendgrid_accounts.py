"""The tenants' SendGrid channels, as the gateway stores them (`sendgrid_channels`, `_id` =
tenant id: `api_key` sealed with servicekit.sealing for the tenant and purpose
``sendgrid.api_key``, `from_email`, `from_name`, `inbound_address`).

Read for the tenants of a batch at once and kept a few seconds. The key is opened here and held
as a ``Secret``; what identifies it in logs and cache keys is its fingerprint."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from servicekit.mongo import find_matching
from servicekit.sealing import Keyring, Sealed, SealingError, Secret

from notifier.domain.errors import CREDENTIALS_UNAVAILABLE, DeliveryError, failure

log = logging.getLogger(__name__)
Document = dict[str, Any]
SENDGRID_API_KEY = "sendgrid.api_key"
"""The purpose the gateway seals the key for (trigger_gateway.domain.sendgrid_channel)."""


@dataclass(frozen=True, slots=True)
class SendGridAccount:
    tenant_id: str
    api_key: Secret
    key_fingerprint: str
    from_email: str
    from_name: str | None
    inbound_address: str | None


Found = SendGridAccount | DeliveryError | None
"""The tenant's channel; an error when its key does not open; None when it has none."""


class SendGridAccounts:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        keyring: Keyring | None,
        *,
        ttl_seconds: float = 5,
        one_by_one: bool = False,
    ) -> None:
        self._db = db
        self._keyring = keyring
        self._ttl = ttl_seconds
        self._one_by_one = one_by_one
        self._cache: dict[str, tuple[float, Found]] = {}

    async def for_tenants(self, tenants: Iterable[str]) -> dict[str, Found]:
        """Each tenant's channel: one read for those not cached."""
        now = time.monotonic()
        wanted = set(tenants)
        found = {t: hit[1] for t in wanted if (hit := self._cache.get(t)) and hit[0] > now}
        missing = sorted(wanted - set(found))
        if missing:
            read = await find_matching(
                self._db.sendgrid_channels, "_id", missing, one_by_one=self._one_by_one
            )
            stored = {doc["_id"]: doc for doc in read}
            for tenant in missing:
                doc = stored.get(tenant)
                account = self._opened(doc) if doc is not None else None
                self._cache[tenant] = (now + self._ttl, account)
                found[tenant] = account
        return found

    def _opened(self, doc: Document) -> SendGridAccount | DeliveryError:
        tenant = str(doc["_id"])
        if self._keyring is None:
            return failure(
                CREDENTIALS_UNAVAILABLE,
                "no KEK configured (CONNECTFLO_KEKS): the SendGrid API key cannot be opened",
            )
        try:
            sealed = Sealed.from_document(doc["api_key"])
            key = self._keyring.open(sealed, tenant_id=tenant, purpose=SENDGRID_API_KEY)
        except (SealingError, KeyError) as exc:
            log.error("the SendGrid API key of tenant %s does not open: %s", tenant, exc)
            return failure(
                CREDENTIALS_UNAVAILABLE, "the tenant's SendGrid API key cannot be opened"
            )
        return SendGridAccount(
            tenant_id=tenant,
            api_key=key,
            key_fingerprint=sealed.fingerprint,
            from_email=str(doc["from_email"]),
            from_name=doc.get("from_name"),
            inbound_address=doc.get("inbound_address"),
        )
