"""The tenants' Twilio accounts and the numbers they receive messages on.

- `twilio_accounts`: one per tenant, `_id` = tenant id: `account_sid` (unique: an account
  belongs to one tenant, so a status callback's AccountSid names the tenant) and `auth_token`,
  sealed (servicekit.sealing, purpose `twilio.auth_token`; the notifier opens it to send).
- `phone_numbers`: one per number, `_id` = the E.164 number (unique: a number routes to one
  tenant), with `tenant_id`, its stable `number_id`, `whatsapp`, `name`, `provider`.

Without transactions (FerretDB has none) a number is claimed by inserting its document: a
duplicate key that is another tenant's is a conflict, and the numbers this call claimed are
released again. A crash part way leaves claims only the same tenant's next `put` settles."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure
from servicekit.mongo import is_duplicate_key
from servicekit.sealing import Sealed

Document = dict[str, Any]


class ChannelConflict(Exception):
    """What another tenant has already: its account sid, or some of the numbers."""

    def __init__(self, *, account_sid: str | None = None, numbers: list[str] | None = None) -> None:
        super().__init__(f"taken: account {account_sid}, numbers {numbers}")
        self.account_sid = account_sid
        self.numbers = numbers or []


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    phone_number: str
    number_id: str
    tenant_id: str
    whatsapp: bool
    name: str | None


@dataclass(frozen=True, slots=True)
class TwilioAccount:
    tenant_id: str
    account_sid: str
    auth_token: Sealed
    numbers: list[PhoneNumber]
    created_at: datetime
    updated_at: datetime


async def ensure_channel_indexes(db: AsyncDatabase[Document]) -> None:
    """The status callback finds the tenant by account sid; a tenant's numbers by tenant."""
    await db.twilio_accounts.create_index([("account_sid", ASCENDING)], unique=True)
    await db.phone_numbers.create_index([("tenant_id", ASCENDING)])


def _number(doc: Document) -> PhoneNumber:
    return PhoneNumber(
        phone_number=doc["_id"],
        number_id=doc["number_id"],
        tenant_id=doc["tenant_id"],
        whatsapp=bool(doc.get("whatsapp")),
        name=doc.get("name"),
    )


MAX_KEPT = 10_000  # lookups kept at most (then all are forgotten)


class TwilioAccountRepository:
    def __init__(self, db: AsyncDatabase[Document], *, cache_seconds: float = 10.0) -> None:
        """``cache_seconds``: how long a lookup of an inbound message or a status callback
        (a number's tenant and account, an account by its sid) is kept; a request whose
        signature does not verify with what was kept is checked again with what is stored
        (``fresh``), and a change through this process forgets what it kept."""
        self._db = db
        self._cache_seconds = cache_seconds
        self._by_number: dict[str, tuple[tuple[PhoneNumber, TwilioAccount], float]] = {}
        self._by_sid: dict[str, tuple[TwilioAccount, float]] = {}

    def _forget(self) -> None:
        self._by_number.clear()
        self._by_sid.clear()

    async def get(self, tenant_id: str) -> TwilioAccount | None:
        doc = await self._db.twilio_accounts.find_one({"_id": tenant_id})
        if doc is None:
            return None
        cursor = self._db.phone_numbers.find({"tenant_id": tenant_id}, sort=[("_id", ASCENDING)])
        return self._account(doc, [_number(n) async for n in cursor])

    @staticmethod
    def _account(doc: Document, numbers: list[PhoneNumber]) -> TwilioAccount:
        return TwilioAccount(
            tenant_id=doc["_id"],
            account_sid=doc["account_sid"],
            auth_token=Sealed.from_document(doc["auth_token"]),
            numbers=numbers,
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )

    async def put(
        self,
        tenant_id: str,
        account_sid: str,
        auth_token: Sealed | None,
        numbers: list[PhoneNumber],
    ) -> TwilioAccount:
        """Connect (or change) the tenant's account: exactly ``numbers`` route to it after.
        ``auth_token`` None keeps the stored one (the caller checked there is one for this
        account sid). ChannelConflict names what another tenant has; nothing changed then."""
        self._forget()
        other = await self._db.twilio_accounts.find_one({"account_sid": account_sid})
        if other is not None and other["_id"] != tenant_id:
            raise ChannelConflict(account_sid=account_sid)
        claimed = await self._claim(tenant_id, numbers)
        now = datetime.now(UTC)
        fields: Document = {"account_sid": account_sid, "updated_at": now}
        if auth_token is not None:
            fields["auth_token"] = auth_token.to_document()
        try:
            await self._db.twilio_accounts.update_one(
                {"_id": tenant_id},
                {"$set": fields, "$setOnInsert": {"created_at": now}},
                upsert=True,
            )
        except OperationFailure as exc:  # another tenant took the account sid meanwhile
            if not is_duplicate_key(exc):
                raise
            await self._release(tenant_id, claimed)
            raise ChannelConflict(account_sid=account_sid) from None
        await self._db.phone_numbers.delete_many(
            {"tenant_id": tenant_id, "_id": {"$nin": [n.phone_number for n in numbers]}}
        )
        account = await self.get(tenant_id)
        assert account is not None
        return account

    async def _claim(self, tenant_id: str, numbers: list[PhoneNumber]) -> list[str]:
        """Each number inserted, or updated where it is the tenant's already: the numbers
        inserted. ChannelConflict (with those released) when some are another tenant's."""
        claimed: list[str] = []
        taken: list[str] = []
        now = datetime.now(UTC)
        for number in numbers:
            doc = {
                "_id": number.phone_number,
                "tenant_id": tenant_id,
                "number_id": number.number_id,
                "whatsapp": number.whatsapp,
                "name": number.name,
                "provider": "twilio",
                "updated_at": now,
            }
            try:
                await self._db.phone_numbers.insert_one(doc)
                claimed.append(number.phone_number)
                continue
            except DuplicateKeyError:
                pass
            result = await self._db.phone_numbers.update_one(
                {"_id": number.phone_number, "tenant_id": tenant_id},
                {"$set": {k: v for k, v in doc.items() if k != "_id"}},
            )
            if result.matched_count == 0:
                taken.append(number.phone_number)
        if taken:
            await self._release(tenant_id, claimed)
            raise ChannelConflict(numbers=taken)
        return claimed

    async def _release(self, tenant_id: str, numbers: list[str]) -> None:
        if numbers:
            await self._db.phone_numbers.delete_many(
                {"tenant_id": tenant_id, "_id": {"$in": numbers}}
            )

    async def delete(self, tenant_id: str) -> bool:
        """The account and its numbers gone (numbers first: a number never routes to a
        tenant without an account for long)."""
        self._forget()
        await self._db.phone_numbers.delete_many({"tenant_id": tenant_id})
        result = await self._db.twilio_accounts.delete_one({"_id": tenant_id})
        return result.deleted_count == 1

    async def for_number(
        self, phone_number: str, *, fresh: bool = False
    ) -> tuple[tuple[PhoneNumber, TwilioAccount] | None, bool]:
        """The number and its tenant's account (two reads by `_id`), for an inbound message,
        and whether that was kept from an earlier lookup (unknown numbers are not kept)."""
        now = time.monotonic()
        kept = self._by_number.get(phone_number)
        if kept is not None and kept[1] > now and not fresh:
            return kept[0], True
        number = await self._db.phone_numbers.find_one({"_id": phone_number})
        if number is None:
            return None, False
        doc = await self._db.twilio_accounts.find_one({"_id": number["tenant_id"]})
        if doc is None:
            return None, False
        found = _number(number)
        pair = (found, self._account(doc, [found]))
        if len(self._by_number) >= MAX_KEPT:
            self._by_number.clear()
        self._by_number[phone_number] = (pair, now + self._cache_seconds)
        return pair, False

    async def for_account_sid(
        self, account_sid: str, *, fresh: bool = False
    ) -> tuple[TwilioAccount | None, bool]:
        """The tenant's account, without its numbers, for a status callback, and whether it
        was kept from an earlier lookup."""
        now = time.monotonic()
        kept = self._by_sid.get(account_sid)
        if kept is not None and kept[1] > now and not fresh:
            return kept[0], True
        doc = await self._db.twilio_accounts.find_one({"account_sid": account_sid})
        if doc is None:
            return None, False
        account = self._account(doc, [])
        if len(self._by_sid) >= MAX_KEPT:
            self._by_sid.clear()
        self._by_sid[account_sid] = (account, now + self._cache_seconds)
        return account, False
