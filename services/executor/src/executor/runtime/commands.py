"""Commands in: each applied in order to its execution (read once per batch, unless this
process wrote it lately: ``BatchFlush.written``), every changed
execution then written once and the outboxes published. A redelivered command re-publishes the
outbox written with it and changes nothing else."""

from __future__ import annotations

import asyncio
from typing import Any

from contracts import Envelope
from servicekit.delivery import Permanent

from executor.adapters.store import ExecutionRepository
from executor.runtime.batch import Batch, BatchFlush, Flush
from executor.runtime.children import JustCreated
from executor.runtime.running import CommandRunner
from executor.runtime.step import Command

Document = dict[str, Any]


class CommandIntake:
    def __init__(
        self,
        executions: ExecutionRepository,
        runner: CommandRunner,
        flush: BatchFlush,
        just_created: JustCreated,
    ) -> None:
        self._executions = executions
        self._runner = runner
        self._flush = flush
        self._just_created = just_created

    async def on_batch(self, envelopes: list[Envelope[Command]]) -> None:
        """Plan the batch and flush it."""
        await (await self.plan(envelopes))()

    async def plan(self, envelopes: list[Envelope[Command]]) -> Flush:
        """The batch up to its writes: the flush that does them is returned. An execution
        whose write is still in flight is taken as written (``BatchFlush.pending``)."""
        batch = Batch()
        stored = await self._read_at_once({e.data.execution_id for e in envelopes})
        for envelope in envelopes:
            command = envelope.data
            touched = batch.touched.get(command.execution_id)
            if touched is not None:
                if command.command_id not in touched.command_ids:
                    await self._runner.run(
                        batch,
                        touched.doc,
                        command,
                        envelope.trace,
                        touched.stored_version,
                        touched.fresh,
                    )
                continue
            doc, fresh = await self._execution(command.execution_id, stored)
            if command.command_id in (doc.get("applied_commands") or [doc.get("last_command_id")]):
                batch.sends.extend(doc.get("outbox", []))  # we may have died before sending
                continue
            await self._runner.run(
                batch, doc, command, envelope.trace, int(doc["version"]), fresh=fresh
            )
        return self._flush.seal(batch)

    async def _read_at_once(self, execution_ids: set[str]) -> dict[str, Document | None]:
        """The batch's executions that only MongoDB has, each read by ``_id``, all at once
        (one after the other, a batch of 20 commands waited 20 round trips)."""
        wanted = [
            i for i in execution_ids if i not in self._just_created and not self._flush.knows(i)
        ]
        found = await asyncio.gather(*(self._executions.get(i) for i in wanted))
        return dict(zip(wanted, found, strict=True))

    async def _execution(
        self, execution_id: str, stored: dict[str, Document | None]
    ) -> tuple[Document, bool]:
        """The execution as last written, and whether this process created it moments ago
        (nobody else has written it)."""
        doc = self._just_created.take(execution_id)
        if doc is not None:
            return doc, True
        # being written by the flush in flight, or written by this process lately (its
        # version is still checked)
        doc = self._flush.pending.get(execution_id) or self._flush.written(execution_id)
        if doc is None and execution_id in stored:
            doc = stored[execution_id]
        elif doc is None:  # was pending when the batch began; written since
            doc = await self._executions.get(execution_id)
        if doc is None:
            raise Permanent(f"no execution {execution_id}")
        return doc, False
