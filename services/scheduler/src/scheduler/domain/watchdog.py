"""What the watchdog finds stuck, and why: pure (docs/architecture.md, *The watchdog*).

An execution that is not final should make progress on its own: a created one is started at
once, a running one writes again within a command, a waiting one has a timer for its waiting
time limit (the deadline) that ends it at the latest. ``assess`` says when one has not, with a
reason a person can read, and what to ask the executor for: ``resend`` (its start, its last
requests, its deadline timer: every receiver dedupes by idempotency key) the first time, and
``fail`` when a repair changed nothing or the waiting limit is past."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.events import ExecutionRepairRequested
from contracts.watchdog import FindingKind, RepairAction, bucket_of, repair_command_id

Document = dict[str, Any]


@dataclass(frozen=True)
class Finding:
    execution_id: str
    tenant_id: str
    workflow_id: str | None
    status: str
    version: int
    kind: FindingKind
    action: RepairAction
    reason: str
    found_at: datetime

    @property
    def finding_id(self) -> str:
        """One record per execution version and action: a rescan finds it there."""
        return f"{self.execution_id}:{self.version}:{self.action}"

    def command(self) -> ExecutionRepairRequested:
        return ExecutionRepairRequested(
            command_id=f"{repair_command_id(self.execution_id, self.version)}:{self.action}",
            execution_id=self.execution_id,
            tenant_id=self.tenant_id,
            finding=self.kind,
            action=self.action,
            reason=self.reason,
            expected_version=self.version,
            found_at=self.found_at,
        )

    def document(self) -> Document:
        return {
            "_id": self.finding_id,
            "tenant_id": self.tenant_id,
            "execution_id": self.execution_id,
            "workflow_id": self.workflow_id,
            "execution_status": self.status,
            "execution_version": self.version,
            "kind": self.kind,
            "action": self.action,
            "reason": self.reason,
            "found_at": self.found_at,
        }


def due_slot(now: datetime, lease: timedelta, bucket_seconds: int) -> int:
    """The latest slot whose every write is older than the lease."""
    return bucket_of(now - lease, bucket_seconds) - 1


def deadline_timer_id(doc: Mapping[str, Any]) -> str | None:
    """The `timers` id of a waiting execution's deadline timer (its idempotency key)."""
    effect = doc.get("deadline_effect")
    return None if not effect else f"{doc['_id']}:{effect}"


def assess(
    doc: Mapping[str, Any],
    *,
    now: datetime,
    lease: timedelta,
    deadline_timer_pending: bool | None = None,
) -> Finding | None:
    """Whether ``doc`` is stuck, and what to do; ``deadline_timer_pending``: whether the
    scheduler holds a pending timer for its waiting time limit (None: not looked up)."""
    status = str(doc.get("status"))
    last = _utc(doc.get("updated_at") or doc.get("created_at"))
    if last is None:
        return None
    idle = now - last
    waited = f"{idle.total_seconds():.0f}s"
    kind: FindingKind
    if status == "waiting":
        deadline = _utc(doc.get("wait_deadline_at"))
        if deadline is not None and now >= deadline + lease:
            kind = "overdue"
            reason = (
                f"waiting past its waiting time limit ({deadline.isoformat()}) by more than "
                f"{lease.total_seconds():g}s: the deadline timer did not end it"
            )
        elif idle < lease or deadline_timer_pending is not False:
            return None
        else:
            kind = "unwakeable"
            reason = (
                f"waiting for {waited} with no pending timer for its waiting time limit "
                f"({deadline_timer_id(doc)}): nothing is sure to wake it"
            )
    elif status in ("created", "running") and idle >= lease:
        lost = "start command" if status == "created" else "next command"
        kind = "not_started" if status == "created" else "no_progress"
        reason = (
            f"{status} and no command applied for {waited}: its {lost} was lost or dead-lettered"
        )
    else:
        return None
    action: RepairAction = "fail" if kind == "overdue" else "resend"
    repaired = doc.get("watchdog") or {}
    if kind != "overdue" and repaired.get("version") == doc.get("version"):
        action = "fail"  # the watchdog's repair was applied and nothing happened since
        reason += f"; still so after the watchdog re-sent it at {_when(repaired)}"
    return Finding(
        execution_id=str(doc["_id"]),
        tenant_id=str(doc["tenant_id"]),
        workflow_id=doc.get("workflow_id"),
        status=status,
        version=int(doc.get("version") or 0),
        kind=kind,
        action=action,
        reason=reason,
        found_at=now,
    )


def unapplied(previous: Finding, doc: Mapping[str, Any] | None, now: datetime) -> Finding | None:
    """A resend published a lease ago that the execution never applied (it is still at the
    version the finding saw): fail it, saying so. None when it moved on (or ended)."""
    if doc is None or previous.action != "resend":
        return None
    if int(doc.get("version") or 0) != previous.version or doc.get("status") != previous.status:
        return None
    reason = (
        f"{previous.reason}; the repair sent at {previous.found_at.isoformat()} was not applied"
    )
    return replace(previous, action="fail", reason=reason, found_at=now)


@dataclass(frozen=True)
class GroupState:
    group: str
    members: int
    lag: int  # records past the committed offsets, over every partition the group committed


def stalled(groups: list[GroupState]) -> list[GroupState]:
    """Consumer groups with records waiting and nobody to read them."""
    return [g for g in groups if g.members == 0 and g.lag > 0]


def _when(repaired: Mapping[str, Any]) -> str:
    at = _utc(repaired.get("repaired_at"))
    return at.isoformat() if at else "an earlier scan"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
