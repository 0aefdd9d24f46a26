"""The watchdog's vocabulary (docs/architecture.md, *The watchdog*): how the executor marks a
non-final execution for it, what it finds and what it asks the executor to do.

The executor, the only writer of an execution, stores ``watch``: ``<status>:<bucket>`` while
the execution is not final (the bucket: which ``bucket_seconds``-long slot its last write fell
in), and ``watch_deadline`` (the slot its waiting time limit falls in) while it waits. Both are
equalities the scheduler's watchdog can ask for one slot at a time, the only kind of query
FerretDB filters in its storage (its GIN index per declared field)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

FINDINGS = "watchdog_findings"  # _id <execution>:<version>: what the watchdog found and did
WATCHED = ("created", "running", "waiting")  # the statuses an execution can be stuck in
BUCKET_SECONDS = 60  # the default slot; CONNECTFLO_WATCH_BUCKET_SECONDS, the same everywhere

FindingKind = Literal[
    "not_started",  # created, no start applied within the lease
    "no_progress",  # running, no command applied within the lease
    "unwakeable",  # waiting, and its waiting-time limit has no pending timer
    "overdue",  # waiting past its waiting-time limit
]
RepairAction = Literal["resend", "fail"]


def bucket_of(at: datetime, bucket_seconds: int) -> int:
    """The slot ``at`` falls in: whole ``bucket_seconds`` since the epoch."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return int(aware.timestamp()) // bucket_seconds


def watch_key(status: str, bucket: int) -> str:
    return f"{status}:{bucket}"


def repair_command_id(execution_id: str, version: int) -> str:
    """One repair per execution version: a redelivered or repeated one changes nothing."""
    return f"repair:{execution_id}:{version}"
