"""A tenant's SLA policies (`sla_policies`, contracts.sla).

A policy: `_id` `slp_` + 16 hex, tenant_id, the fields of contracts.sla.SlaPolicySpec as they
are in JSON (name unique in the tenant, is_active, position, channels, targets as a list of
`{metric, seconds, priority, channel}` documents, business_hours as a document: timezone,
weekly `{mon: [{start, end}], ...}`, holidays_country, holidays_subdivision, closed_dates as
ISO date strings: BSON has no date without a time, and FerretDB refuses arrays in arrays),
at_risk_fraction, pause_while_waiting_on_customer, replies_that_count), revision (1, then one
more per replace), created_at, updated_at. The scheduler's SLA keeper reads the spec's fields.

A create holds the tenant's lock (adapters/locks.py) so that two at once cannot both pass the
count; a replace holds the policy's, so two at once cannot both write one revision."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contracts.sla import SLA_POLICIES, SlaPolicySpec
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure
from servicekit.mongo import is_duplicate_key

from trigger_gateway.adapters.clock import stored_now
from trigger_gateway.adapters.locks import Locks

Document = dict[str, Any]
MAX_POLICIES = 100
"""The most SLA policies one tenant may have (a conversation's view reads them all)."""


class NameTaken(Exception):
    """Another policy of the tenant has this name."""


class TooManyPolicies(Exception):
    """The tenant has MAX_POLICIES already."""


def new_policy_id() -> str:
    return "slp_" + secrets.token_hex(8)


def spec_of(doc: Document) -> SlaPolicySpec:
    """The spec a stored policy holds."""
    return SlaPolicySpec.model_validate({k: doc[k] for k in SlaPolicySpec.model_fields if k in doc})


class SlaPolicyRepository:
    def __init__(
        self,
        db: AsyncDatabase[Document],
        locks: Locks,
        *,
        clock: Callable[[], datetime] = stored_now,
    ) -> None:
        self._policies = db[SLA_POLICIES]
        self._locks = locks
        self._clock = clock  # a stored time: to the millisecond

    async def ensure_indexes(self) -> None:
        await self._policies.create_index([("tenant_id", ASCENDING), ("position", ASCENDING)])
        await self._policies.create_index(
            [("tenant_id", ASCENDING), ("name", ASCENDING)], unique=True
        )

    async def create(self, tenant_id: str, policy_id: str, spec: SlaPolicySpec) -> Document:
        """Stored as revision 1. NameTaken when the tenant has a policy of that name,
        TooManyPolicies when it has MAX_POLICIES."""
        async with self._locks.held(f"sla_policies:{tenant_id}"):
            if await self._policies.count_documents({"tenant_id": tenant_id}) >= MAX_POLICIES:
                raise TooManyPolicies(tenant_id)
            now = self._clock()
            doc = {
                "_id": policy_id,
                "tenant_id": tenant_id,
                **spec.model_dump(mode="json"),
                "revision": 1,
                "created_at": now,
                "updated_at": now,
            }
            try:
                await self._policies.insert_one(doc)
            except DuplicateKeyError:
                raise NameTaken(spec.name) from None
            return doc

    async def replace(self, tenant_id: str, policy_id: str, spec: SlaPolicySpec) -> Document | None:
        """``spec`` as the next revision; None when the tenant has no such policy, NameTaken
        when another of its policies has the name."""
        async with self._locks.held(f"sla_policy:{policy_id}"):
            current = await self.get(tenant_id, policy_id)
            if current is None:
                return None
            changes = {
                **spec.model_dump(mode="json"),
                "revision": int(current["revision"]) + 1,
                "updated_at": self._clock(),
            }
            try:
                return await self._policies.find_one_and_update(
                    {"_id": policy_id, "tenant_id": tenant_id},
                    {"$set": changes},
                    return_document=ReturnDocument.AFTER,
                )
            except OperationFailure as exc:  # FerretDB: an InternalError, not DuplicateKeyError
                if not is_duplicate_key(exc):
                    raise
                raise NameTaken(spec.name) from None

    async def get(self, tenant_id: str, policy_id: str) -> Document | None:
        return await self._policies.find_one({"_id": policy_id, "tenant_id": tenant_id})

    async def list(self, tenant_id: str) -> list[Document]:
        """The tenant's policies by position, then name (the order a conversation's policy is
        chosen in)."""
        cursor = self._policies.find(
            {"tenant_id": tenant_id},
            sort=[("position", ASCENDING), ("name", ASCENDING)],
            limit=MAX_POLICIES,
        )
        return [doc async for doc in cursor]

    async def delete(self, tenant_id: str, policy_id: str) -> bool:
        result = await self._policies.delete_one({"_id": policy_id, "tenant_id": tenant_id})
        return result.deleted_count == 1
