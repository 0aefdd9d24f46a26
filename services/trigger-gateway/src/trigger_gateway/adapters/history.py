"""What the history API reads: executions and node runs (the executor is their only writer)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from trigger_gateway.adapters.keyset import newest_first, older_than

Document = dict[str, Any]
# Engine internals and payload copies stay out of listings.
_LISTED = {
    "first_runs_json": 0,
    "state_json": 0,
    "outbox_json": 0,
    "trigger_json": 0,
    "variables_json": 0,
}


@dataclass(frozen=True)
class ExecutionFilter:
    """Which executions of a workflow to list (times compare with `created_at`)."""

    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class ExecutionReadRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._db = db

    async def get(self, tenant_id: str, execution_id: str) -> Document | None:
        # By _id alone, tenant checked here: FerretDB pushes only _id equality down to its
        # storage, and {_id, tenant_id} would scan every execution.
        doc = await self._db.executions.find_one(
            {"_id": execution_id}, projection={"state_json": 0, "outbox_json": 0}
        )
        return doc if doc is not None and doc.get("tenant_id") == tenant_id else None

    async def trigger_outcome(self, tenant_id: str, trigger_id: str) -> Document | None:
        """What the executor recorded of a trigger besides the executions it started (the
        workflows it did not start and why, the executions it resumed); by ``_id`` alone."""
        doc = await self._db.trigger_outcomes.find_one({"_id": trigger_id})
        return doc if doc is not None and doc.get("tenant_id") == tenant_id else None

    async def find(
        self, tenant_id: str, *, trigger_id: str | None, workflow_id: str | None, limit: int
    ) -> list[Document]:
        query: Document = {"tenant_id": tenant_id}
        if trigger_id:
            query["trigger_id"] = trigger_id
        if workflow_id:
            query["workflow_id"] = workflow_id
        cursor = self._db.executions.find(
            query, projection=_LISTED, sort=[("created_at", DESCENDING)]
        ).limit(limit)
        return [doc async for doc in cursor]

    async def page(
        self,
        tenant_id: str,
        workflow_id: str,
        which: ExecutionFilter,
        *,
        limit: int,
        after: tuple[datetime, str] | None,
    ) -> list[Document]:
        """A workflow's executions, newest first."""
        query: Document = {"tenant_id": tenant_id, "workflow_id": workflow_id}
        if which.status:
            query["status"] = which.status
        created: Document = {}
        if which.since is not None:
            created["$gte"] = which.since
        if which.until is not None:
            created["$lt"] = which.until
        if created:
            query["created_at"] = created
        if after is not None:
            query.update(older_than("created_at", *after))
        cursor = self._db.executions.find(
            query, projection=_LISTED, sort=newest_first("created_at")
        ).limit(limit)
        return [doc async for doc in cursor]

    async def node_runs(
        self, execution: Document, *, limit: int, after_seq: int | None = None
    ) -> list[Document]:
        """An execution's node runs in the order they ran (``input``/``output`` decoded), at
        most ``limit``. The first ones may be in the execution document itself
        (``first_runs_json``, up to ``first_runs_last_seq``: written with it when it was
        created), the others in ``node_runs``, one document per command with its runs as JSON
        text (``seq`` the first, ``last_seq`` the last); a document without ``runs_json`` is
        one run, as an earlier version wrote them."""
        after = -1 if after_seq is None else after_seq
        runs = [r for r in embedded_runs(execution) if r["seq"] > after]
        if len(runs) >= limit:
            return runs[:limit]
        after = max(after, int(execution.get("first_runs_last_seq", -1)))
        query: Document = {"execution_id": execution["_id"]}
        if after >= 0:
            query["$or"] = [
                {"last_seq": {"$gt": after}},
                {"last_seq": {"$exists": False}, "seq": {"$gt": after}},
            ]
        # every document holds at least one run: `limit` documents hold enough
        cursor = self._db.node_runs.find(query, sort=[("seq", ASCENDING)]).limit(limit)
        runs += [run async for doc in cursor for run in runs_of(doc) if run["seq"] > after]
        return runs[:limit]


def runs_of(doc: Document) -> list[Document]:
    """The node runs a stored document holds, in the shape the API shows."""
    if "runs_json" not in doc:
        run = dict(doc)
        run["input"] = _decoded(run.pop("input_json", None))
        run["output"] = _decoded(run.pop("output_json", None))
        return [run]
    return _decoded_runs(doc["runs_json"])


def embedded_runs(execution: Document) -> list[Document]:
    """The node runs written in the execution document when it was created."""
    return _decoded_runs(execution.get("first_runs_json"))


def _decoded_runs(runs_json: str | None) -> list[Document]:
    runs: list[Document] = json.loads(runs_json) if runs_json else []
    for run in runs:
        for moment in ("started_at", "finished_at"):
            if isinstance(run.get(moment), str):
                run[moment] = datetime.fromisoformat(run[moment])
    return runs


def _decoded(text: str | None) -> Any:
    return None if text is None else json.loads(text)
