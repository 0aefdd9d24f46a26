"""One consumed batch's writes and sends: planned in memory, then flushed in one round each.

The flush writes node runs and trigger outcomes first (whoever sees an execution's new state
also finds its timeline and what its trigger did), then new executions in one insert and each
changed execution replaced conditionally on its version, then sends every outbox; the pipeline
commits the offsets after it. While it is in flight, the documents it replaces are ``pending``:
the next batch's plan builds on them instead of reading MongoDB (docs/architecture.md,
*Pipelined batches*)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from executor.adapters.conversations import (
    ConversationRepository,
    ConversationsExisted,
    ConversationWrites,
)
from executor.adapters.execution_documents import embed_first_runs
from executor.adapters.store import ExecutionRepository
from executor.runtime.step import FINISHED
from executor.telemetry import count_lifecycle

Document = dict[str, Any]
WRITTEN_LIMIT = 5_000  # executions kept as last written (a waiting one is some 10-50 kB)
Publish = Callable[[bytes, str, bytes | None, dict[str, str]], Awaitable[None]]
Flush = Callable[[], Awaitable[None]]


@dataclass
class Touched:
    """An execution changed by the batch: the document to write and what to send after."""

    doc: Document
    stored_version: int | None  # the version read from MongoDB; None: inserted by the flush
    fresh: bool  # created by this process moments ago (no version read needed)
    outbox: list[Document] = field(default_factory=list)
    command_ids: list[str] = field(default_factory=list)
    node_runs: list[Document] = field(default_factory=list)  # one document per command


@dataclass
class Batch:
    """The writes and sends of one consumed batch, done together by its flush."""

    touched: dict[str, Touched] = field(default_factory=dict)
    # for an execution inserted by the flush: what to send instead of its outbox when it
    # already existed (a redelivered trigger): its start command, answered by the outbox
    if_existing: dict[str, Document] = field(default_factory=dict)
    sends: list[Document] = field(default_factory=list)  # other sends, after the writes
    trigger_outcomes: list[Document] = field(default_factory=list)  # written with executions
    # conversations (their reply waits too), their messages and tenant variables: written
    # with the executions
    conversations: ConversationWrites = field(default_factory=ConversationWrites)


class Sender:
    """Publishes outbox entries (the kit's producer batches them)."""

    def __init__(self, publish: Publish) -> None:
        self._publish = publish

    async def send(self, entry: Document) -> None:
        await self._publish(
            entry["value"].encode(), entry["topic"], entry["key"].encode(), entry["headers"]
        )


class BatchFlush:
    """Seals planned batches and flushes them; keeps the documents of the flush in flight."""

    def __init__(
        self,
        executions: ExecutionRepository,
        conversations: ConversationRepository,
        sender: Sender,
    ) -> None:
        self._executions = executions
        self._conversations = conversations
        self._sender = sender
        self.pending: dict[str, Document] = {}  # written by a flush in flight
        # the latest executions this process wrote (not finished), least recent first
        self._written: OrderedDict[str, Document] = OrderedDict()
        # conversations a flush in flight writes: set when it is done (or failed)
        self._conversations_in_flight: dict[str, asyncio.Event] = {}

    def seal(self, batch: Batch) -> Flush:
        """Complete the batch's documents with what their write carries, take them as written
        until it is done (the next batch may be planned meanwhile), and return the flush."""
        for touched in batch.touched.values():
            # Everything since the last write goes out with this one, so a crash before the
            # sends re-publishes all of it when any of its commands is redelivered.
            touched.doc["outbox"] = touched.outbox
            touched.doc["applied_commands"] = touched.command_ids
            if touched.stored_version is not None:
                # A replace: the state the stored one becomes. Not an insert: that execution
                # may exist already (a redelivered trigger), and its commands come only after
                # the insert's outbox, i.e. from MongoDB.
                self.pending[touched.doc["_id"]] = touched.doc

        done = asyncio.Event()
        refs = batch.conversations.refs()
        for ref in refs:
            self._conversations_in_flight[ref] = done

        async def flush() -> None:
            try:
                existed = await self._flush(batch)
            except ConversationsExisted:
                # nothing written: only this batch's documents are dropped
                for execution_id, touched in batch.touched.items():
                    if self.pending.get(execution_id) is touched.doc:
                        del self.pending[execution_id]
                raise
            except BaseException:
                self.forget()  # not written, or in part: MongoDB is the truth again
                raise
            finally:
                done.set()
                for ref in refs:
                    if self._conversations_in_flight.get(ref) is done:
                        del self._conversations_in_flight[ref]
            for execution_id, touched in batch.touched.items():
                if self.pending.get(execution_id) is touched.doc:
                    del self.pending[execution_id]
                if execution_id not in existed:
                    self._remember(touched.doc)

        return flush

    def knows(self, execution_id: str) -> bool:
        """Whether the execution's state is here: in a flush in flight, or written lately."""
        return execution_id in self.pending or execution_id in self._written

    def written(self, execution_id: str) -> Document | None:
        """The execution as this process last wrote it, if it is among the recent ones: its
        next command needs no read. Only this process writes the executions of its
        partitions; if another did (a rebalance), the version check of the write fails and
        the batch is planned again from MongoDB (``forget``)."""
        doc = self._written.get(execution_id)
        if doc is not None:
            self._written.move_to_end(execution_id)
        return doc

    def _remember(self, doc: Document) -> None:
        if doc.get("status") in FINISHED:  # nothing more comes for it, as a rule
            self._written.pop(doc["_id"], None)
            return
        self._written[doc["_id"]] = doc
        self._written.move_to_end(doc["_id"])
        if len(self._written) > WRITTEN_LIMIT:
            self._written.popitem(last=False)

    async def conversations_written(self, refs: set[str]) -> None:
        """Until the flushes in flight that write any of these conversations are done: a
        plan reads them from MongoDB (the next batch's plan overlaps this one's flush, and
        a conversation's state is not kept in memory like an execution's)."""
        waiting = {self._conversations_in_flight.get(ref) for ref in refs} - {None}
        for event in waiting:
            assert event is not None
            await event.wait()

    def forget(self) -> None:
        """Drop the documents of writes not known to be done (a flush failed: MongoDB is the
        truth again), and those written before (a plan may have changed them)."""
        self.pending.clear()
        self._written.clear()

    async def _flush(self, batch: Batch) -> set[str]:
        """Node runs and trigger outcomes first, then the executions at once (new ones inserted,
        others replaced conditionally on their version: ConcurrentUpdate fails the batch and the
        next attempt reads afresh), then every send, then (by the caller's return) the offsets. A
        new execution's first node runs go in its own document (``embed_first_runs``): one write
        fewer for the batch, and its state and timeline appear together. New conversations before
        everything: one planned as new without a read that exists stops the batch there, before
        anything else is written (the intake plans it again)."""
        existed = await self._conversations.insert_new(batch.conversations)
        runs: list[Document] = []
        new: list[Document] = []
        saves = []
        for t in batch.touched.values():
            if t.stored_version is None:
                new.append(t.doc)
                runs.extend(embed_first_runs(t.doc, t.node_runs))
            else:
                runs.extend(t.node_runs)
                saves.append(
                    self._executions.save(t.doc, expected_version=t.stored_version, fresh=t.fresh)
                )
        # Before the executions: whoever sees one also finds its timeline and what the
        # trigger that started it did besides (GET /v1/triggers reads both).
        first = []
        if runs:
            first.append(self._executions.record_node_runs(runs))
        if batch.trigger_outcomes:
            first.append(self._executions.record_trigger_outcomes(batch.trigger_outcomes))
        await _all(*first)
        if batch.conversations:
            # Idempotent and independent of the executions: written with them.
            saves.append(self._conversations.write(batch.conversations, existed))
        results = await _all(self._executions.create_many(new), *saves)
        created: set[str] = results[0]
        sends: list[Document] = []
        for execution_id, touched in batch.touched.items():
            if execution_id in created:
                # Created by an earlier attempt: its start command re-publishes its outbox
                # (or is a no-op if it has moved on).
                sends.append(batch.if_existing[execution_id])
            else:
                sends.extend(touched.outbox)
        sends.extend(batch.sends)
        # Sent together: the producer batches them; the sends start in order, so events of
        # one execution keep their order on a topic.
        await asyncio.gather(*(self._sender.send(entry) for entry in sends))
        for execution_id, touched in batch.touched.items():
            if execution_id not in created:
                count_lifecycle(touched.doc.get("trigger_type") or "unknown", touched.outbox)
        return created


async def _all(*writes: Awaitable[Any]) -> list[Any]:
    """Run the writes concurrently and wait for every one, then raise the first error: the
    caller's retry must not overlap a write still in flight."""
    results = await asyncio.gather(*writes, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
