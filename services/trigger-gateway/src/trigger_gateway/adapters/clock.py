"""The time a document records: now, to the millisecond, as BSON stores it, so what a
write answers equals what a later read does."""

from __future__ import annotations

from datetime import UTC, datetime


def stored_now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
