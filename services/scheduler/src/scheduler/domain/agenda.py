"""What one replica knows of the pending timers of the partitions it owns, by bucket, so that
the firing loop reads only the buckets that have a timer due and sleeps until the next one is.

For each (partition, bucket) that may hold a pending timer the agenda keeps a lower bound of
when its first is due (a bucket is a minute: the bound lies within it). It learns them from one
read of a partition's pending timers when the partition is assigned, and then from every request
the replica handles: the owner of a partition consumes all of its requests. A bucket that comes
due is read once and its pending timers are kept (it is *loaded*) until they fire or are
cancelled, so that each pass of the loop costs what it fires, not what is pending. The database
has the truth: whenever the agenda cannot be sure what a bucket holds, the bucket is read again.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.domain.timers import Document, bucket_of

Key = tuple[int, int]  # (bucket, partition): in this order, the earliest bucket sorts first


@dataclass
class _Bucket:
    earliest: datetime
    """No pending timer of the bucket is due before this (when loaded: the first one's time)."""
    timers: dict[str, Document] | None = None
    """Loaded: every pending timer of the bucket, by id. None: read it before firing."""
    reading: bool = False
    stored: dict[str, Document] = field(default_factory=dict)
    """Stored while the bucket was being read (the read may have missed them)."""
    unsure: bool = False
    """While it was being read, a request may have stored a timer that is not in ``stored``."""


def _key(timer: Document) -> Key:
    return bucket_of(timer["fire_at"]), timer["partition"]


class Agenda:
    def __init__(self) -> None:
        self._buckets: dict[Key, _Bucket] = {}
        self._order: list[Key] = []  # the keys of _buckets, sorted
        self._partitions: frozenset[int] = frozenset()
        self._unread: set[int] = set()

    @property
    def partitions(self) -> frozenset[int]:
        """The partitions this replica owns."""
        return self._partitions

    @property
    def unread(self) -> list[int]:
        """Owned partitions whose pending timers have not been read since they were assigned."""
        return sorted(self._unread)

    # -- ownership ----------------------------------------------------------------------------

    def own(self, partitions: Iterable[int]) -> None:
        """The whole assignment: partitions new to it are to be read, the others kept, those
        no longer in it forgotten."""
        given = frozenset(partitions)
        self._forget(self._partitions - given)
        self._unread = (self._unread & given) | (given - self._partitions)
        self._partitions = given

    def give_up(self, partitions: Iterable[int]) -> None:
        self.own(self._partitions - frozenset(partitions))

    def learn(self, partition: int, earliest: Mapping[int, datetime]) -> None:
        """What the read of an assigned partition found: when the first pending timer of each
        of its buckets is due."""
        if partition not in self._unread:
            return  # given up while it was being read
        self._unread.discard(partition)
        for bucket, at in earliest.items():
            key = (bucket, partition)
            entry = self._buckets.get(key)
            if entry is None or entry.timers is None:  # a loaded bucket knows better already
                self._lower(key, at)

    def _forget(self, partitions: frozenset[int]) -> None:
        if not partitions:
            return
        self._order = [key for key in self._order if key[1] not in partitions]
        self._buckets = {key: self._buckets[key] for key in self._order}

    # -- what the replica did -----------------------------------------------------------------

    def stored(self, timer: Document, *, new: bool) -> None:
        """A request for ``timer`` was handled: ``new`` when this replica stored it; otherwise
        the key was there already (pending, settled or a tombstone) or storing it failed, and
        it may be pending or not."""
        if timer["partition"] not in self._partitions:
            return
        entry = self._lower(_key(timer), timer["fire_at"])
        if entry.timers is not None:
            if new:
                entry.timers[timer["_id"]] = timer
            elif timer["_id"] not in entry.timers:
                entry.timers = None
        elif entry.reading:
            if new:
                entry.stored[timer["_id"]] = timer
            else:
                entry.unsure = True

    def settled(self, timers: Iterable[Document]) -> None:
        """These timers fired or were cancelled: pending no more."""
        touched: set[Key] = set()
        for timer in timers:
            key = _key(timer)
            entry = self._buckets.get(key)
            if entry is not None and entry.timers is not None:
                entry.timers.pop(timer["_id"], None)
                touched.add(key)
        for key in touched:
            self._loaded(key, self._buckets[key])

    # -- reading a bucket ---------------------------------------------------------------------

    def needs_read(self, partition: int, bucket: int) -> bool:
        entry = self._buckets.get((bucket, partition))
        return entry is not None and entry.timers is None

    def reading(self, partition: int, bucket: int) -> None:
        """The bucket's pending timers are being read."""
        entry = self._buckets[(bucket, partition)]
        entry.reading, entry.stored, entry.unsure = True, {}, False

    def read(self, partition: int, bucket: int, timers: list[Document]) -> None:
        """The pending timers the read found: the bucket is loaded, unless a request may have
        stored one that the read missed (then it is still to be read)."""
        key = (bucket, partition)
        entry = self._buckets.get(key)
        if entry is None or not entry.reading:
            return  # forgotten meanwhile (given up)
        entry.reading = False
        if not entry.unsure:
            entry.timers = {t["_id"]: t for t in timers} | entry.stored
            self._loaded(key, entry)
        entry.stored = {}

    def _loaded(self, key: Key, entry: _Bucket) -> None:
        """A loaded bucket's bound is its first timer; with none left, it is forgotten."""
        assert entry.timers is not None
        if entry.timers:
            entry.earliest = min(t["fire_at"] for t in entry.timers.values())
        else:
            del self._buckets[key]
            del self._order[bisect_left(self._order, key)]

    def _lower(self, key: Key, at: datetime) -> _Bucket:
        entry = self._buckets.get(key)
        if entry is None:
            entry = self._buckets[key] = _Bucket(at)
            insort(self._order, key)
        elif at < entry.earliest:
            entry.earliest = at
        return entry

    # -- what is due --------------------------------------------------------------------------

    def due(self, now: datetime) -> list[tuple[int, int]]:
        """(partition, bucket) of each bucket that may have a timer due by ``now``, the
        earliest buckets first."""
        end = bisect_left(self._order, (bucket_of(now) + 1,))
        return [(p, b) for b, p in self._order[:end] if self._buckets[(b, p)].earliest <= now]

    def due_timers(self, partition: int, bucket: int, now: datetime, limit: int) -> list[Document]:
        """The first ``limit`` timers of a loaded bucket due by ``now``, earliest first."""
        entry = self._buckets.get((bucket, partition))
        if entry is None or entry.timers is None:
            return []
        due = (t for t in entry.timers.values() if t["fire_at"] <= now)
        return heapq.nsmallest(limit, due, key=lambda t: (t["fire_at"], t["_id"]))

    def next_due(self) -> datetime | None:
        """When the first timer may be due (None: no timer is pending)."""
        if not self._order:
            return None
        first = self._order[0][0]  # every bound lies within its own bucket
        end = bisect_left(self._order, (first + 1,))
        return min(self._buckets[key].earliest for key in self._order[:end])
