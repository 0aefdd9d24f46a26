"""The tenants' Twilio accounts, as the gateway stores them (`twilio_accounts`, `_id` = tenant
id: `account_sid` and `auth_token` sealed with servicekit.sealing for the tenant and purpose
``twilio.auth_token``; `phone_numbers`: the tenant's numbers, `_id` = E.164, `whatsapp`).

Read for the tenants of a batch at once and kept a few seconds (a changed token or number
is seen within ``ttl_seconds``). The token is opened here and held as a ``Secret``; it is never
logged: what identifies it in logs and cache keys is its fingerprint."""

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
TWILIO_AUTH_TOKEN = "twilio.auth_token"
"""The purpose the gateway seals the token for (trigger_gateway.domain.channels)."""


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    tenant_id: str
    account_sid: str
    auth_token: Secret
    token_fingerprint: str
    numbers: tuple[str, ...]  # E.164, in the order of their `_id`
    whatsapp_numbers: tuple[str, ...]

    def senders(self, channel: str) -> list[str]:
        """The numbers that may send on ``channel`` (sms, whatsapp)."""
        return list(self.whatsapp_numbers if channel == "whatsapp" else self.numbers)


Found = TwilioAccount | DeliveryError | None
"""The tenant's account; an error when it cannot be used (its token does not open); None when
the tenant has connected none."""


class TwilioAccounts:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        keyring: Keyring | None,
        *,
        ttl_seconds: float = 5,
        one_by_one: bool = False,
    ) -> None:
        """``one_by_one``: on FerretDB, reads one tenant at a time, all at once."""
        self._db = db
        self._one_by_one = one_by_one
        self._keyring = keyring
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, Found]] = {}

    async def for_tenants(self, tenants: Iterable[str]) -> dict[str, Found]:
        """Each tenant's account: two reads for those not cached (accounts, then numbers)."""
        now = time.monotonic()
        wanted = set(tenants)
        found = {t: hit[1] for t in wanted if (hit := self._cache.get(t)) and hit[0] > now}
        missing = sorted(wanted - set(found))
        if missing:
            read = await find_matching(
                self._db.twilio_accounts, "_id", missing, one_by_one=self._one_by_one
            )
            accounts = {doc["_id"]: doc for doc in read}
            numbers: dict[str, list[Document]] = {}
            owned = await find_matching(
                self._db.phone_numbers, "tenant_id", accounts, one_by_one=self._one_by_one
            )
            for doc in sorted(owned, key=lambda d: str(d["_id"])):
                numbers.setdefault(doc["tenant_id"], []).append(doc)
            for tenant in missing:
                stored = accounts.get(tenant)
                account = self._opened(stored, numbers.get(tenant, [])) if stored else None
                self._cache[tenant] = (now + self._ttl, account)
                found[tenant] = account
        return found

    def _opened(self, doc: Document, numbers: list[Document]) -> TwilioAccount | DeliveryError:
        tenant = str(doc["_id"])
        if self._keyring is None:
            return failure(
                CREDENTIALS_UNAVAILABLE,
                "no KEK configured (CONNECTFLO_KEKS): the Twilio auth token cannot be opened",
            )
        try:
            sealed = Sealed.from_document(doc["auth_token"])
            token = self._keyring.open(sealed, tenant_id=tenant, purpose=TWILIO_AUTH_TOKEN)
        except (SealingError, KeyError) as exc:
            log.error("the Twilio auth token of tenant %s does not open: %s", tenant, exc)
            return failure(
                CREDENTIALS_UNAVAILABLE, "the tenant's Twilio auth token cannot be opened"
            )
        return TwilioAccount(
            tenant_id=tenant,
            account_sid=str(doc["account_sid"]),
            auth_token=token,
            token_fingerprint=sealed.fingerprint,
            numbers=tuple(str(n["_id"]) for n in numbers),
            whatsapp_numbers=tuple(str(n["_id"]) for n in numbers if n.get("whatsapp")),
        )
