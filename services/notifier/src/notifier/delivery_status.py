"""Providers' reports on outbound messages (DeliveryStatusReported, from Twilio's status callbacks
through the gateway): each recorded on its message (history once per event id, status only
forward), a failure also on the conversation (``last_delivery_failure``) and announced with
DeliveryFailed, so a message that did not arrive is never silent.

A report names its message when the callback did (the StatusCallback the notifier gives Twilio
carries the message's id, signed with the URL): it is recorded by the message's ``_id``, of the
tenant whose account signed it, with no read. One that names none (a message sent without that
URL) is kept (``delivery_reports``) and its message looked up by the provider's id.

A report about a message whose send is not answered yet (the callback overtook the create's
answer) waits for the sending path to write the answer, up to ``wait_seconds``: until then the
message is the sending path's to write (notifier.domain.lifecycle). Reports that changed
nothing are looked at: recorded before (a redelivery), still waiting, or about no message of
the tenant (kept, never applied to another tenant's message)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from contracts import Envelope, topics
from contracts.conversations import conversation_ref
from contracts.envelope import NO_TRACE, TraceContext
from contracts.events import DeliveryStatusReported
from servicekit.publisher import Publish
from servicekit.telemetry import consuming, current_trace

from notifier.adapters.conversations import ConversationUpdates, Failure
from notifier.adapters.messages import MessageLog
from notifier.domain.lifecycle import (
    FAILED_STATUSES,
    MessageReport,
    Report,
    Standing,
    announces_failure,
    standing,
)
from notifier.publishing import Announce, Outgoing, delivery_failed, nobody, publish_all
from notifier.telemetry import DELIVERY_REPORTS, tracer

log = logging.getLogger(__name__)
Document = dict[str, Any]
GROUP = "notifier"
Reported = Callable[[list[Envelope[Any]]], Awaitable[None]]
FIRST_LOOK_SECONDS = 0.02
LONGEST_LOOK_SECONDS = 1.0


class DeliveryStatus:
    def __init__(
        self,
        messages: MessageLog,
        conversations: ConversationUpdates,
        publish: Publish,
        *,
        announce: Announce = nobody,
        reported: Reported | None = None,
        wait_seconds: float = 15.0,
    ) -> None:
        """``announce``: told what was published; ``reported``: given the consumed reports
        after they are recorded (both: the tenants' webhooks); ``wait_seconds``: how long a
        report waits for its message's send to be answered before it is kept unapplied."""
        self._messages = messages
        self._conversations = conversations
        self._publish = publish
        self._announce = announce
        self._reported = reported
        self._wait = wait_seconds

    async def on_delivery_status_reported(
        self, envelopes: list[Envelope[DeliveryStatusReported]]
    ) -> None:
        """Record the batch's reports (one write for those that name their message; those that
        name none kept and looked up first), then announce the failures."""
        reports: list[MessageReport] = []
        traces: dict[str, TraceContext] = {}
        for envelope in envelopes:
            event = envelope.data
            with consuming(tracer, topics.DELIVERY_STATUS, envelope, group=GROUP):
                traces[event.event_id] = current_trace()
            report = Report(
                event_id=event.event_id,
                status=event.status,
                at=event.reported_at,
                error_code=event.error_code,
                error_message=event.error_message,
            )
            reports.append(
                MessageReport(
                    event.tenant_id,
                    event.provider,
                    event.provider_message_id,
                    report,
                    event.message_id,
                )
            )
        named = [r for r in reports if r.message_id is not None]
        for r in named:
            DELIVERY_REPORTS.labels(r.provider, "named").inc()
        found = await self._looked_up([r for r in reports if r.message_id is None])
        outgoing = await self._apply([*named, *found], datetime.now(UTC), traces)
        await publish_all(self._publish, outgoing)
        await self._announce(outgoing)
        if self._reported is not None:
            await self._reported(list(envelopes))

    async def _looked_up(self, reports: list[MessageReport]) -> list[MessageReport]:
        """Reports that name no message, kept, then with their messages found by the
        provider's id (one read per tenant and provider); those of no message are left out."""
        if not reports:
            return []
        await self._messages.keep_reports(reports)
        by_source: dict[tuple[str, str], list[MessageReport]] = {}
        for r in reports:
            by_source.setdefault((r.tenant_id, r.provider), []).append(r)
        found: list[MessageReport] = []
        for (tenant, provider), kept in by_source.items():
            ids = {r.provider_message_id for r in kept}
            messages = await self._messages.by_provider_ids(tenant, provider, ids)
            for r in kept:
                message = messages.get(r.provider_message_id)
                DELIVERY_REPORTS.labels(provider, "matched" if message else "kept").inc()
                if message is not None:
                    found.append(replace(r, message_id=message["_id"]))
        return found

    async def _apply(
        self,
        reports: Sequence[MessageReport],
        now: datetime,
        traces: Mapping[str, TraceContext],
    ) -> list[Outgoing]:
        """Record ``reports`` (each naming its message) on their messages; the failures to
        announce (``traces``: by event id)."""
        if not reports:
            return []
        if await self._messages.apply(reports, now) < len(reports):
            await self._settle(reports, now)
        return await self._failures(reports, traces)

    async def _settle(self, reports: Sequence[MessageReport], now: datetime) -> None:
        """Reports the first write did not record: each looked at on its message. Recorded
        before: nothing to do; about no message of the tenant: kept; due now: recorded; the
        message's send not answered yet: looked at again a moment later, kept when it is not
        answered within ``wait_seconds``."""
        deadline = time.monotonic() + self._wait
        pause = FIRST_LOOK_SECONDS
        left = list(reports)
        waited = False
        while True:
            messages = await self._messages.by_ids({r.message_id for r in left if r.message_id})
            by_standing: dict[Standing, list[MessageReport]] = {s: [] for s in Standing}
            for r in left:
                by_standing[standing(messages.get(r.message_id or ""), r)].append(r)
            unknown, due = by_standing[Standing.UNKNOWN], by_standing[Standing.DUE]
            waiting = by_standing[Standing.UNANSWERED]
            if unknown:
                log.warning("%d delivery report(s) about no message of their tenant", len(unknown))
                _count(unknown, "kept")
                await self._messages.keep_reports(unknown)
            if due and await self._messages.apply(due, now) < len(due):
                waiting += due  # changed since it was read: looked at again
            if waiting and not waited:
                _count(waiting, "waited")
                waited = True
            if not waiting:
                return
            if time.monotonic() >= deadline:
                log.warning(
                    "%d delivery report(s) kept: their message's send was not answered within %gs",
                    len(waiting),
                    self._wait,
                )
                _count(waiting, "kept")
                await self._messages.keep_reports(waiting)
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_LOOK_SECONDS)
            left = waiting

    async def _failures(
        self, reports: Sequence[MessageReport], traces: Mapping[str, TraceContext]
    ) -> list[Outgoing]:
        """The failures ``reports`` recorded (or had recorded before: the announcement may not
        have gone out), announced, and on their conversations (one read of their messages)."""
        failing = [r for r in reports if r.report.status in FAILED_STATUSES and r.message_id]
        if not failing:
            return []
        messages = await self._messages.by_ids({r.message_id for r in failing if r.message_id})
        outgoing: list[Outgoing] = []
        failures: list[Failure] = []
        announced: set[tuple[str, str]] = set()
        for r in failing:
            message = messages.get(r.message_id or "")
            if message is None or not announces_failure(message, r):
                continue
            if (message["_id"], r.report.status) in announced:
                continue
            announced.add((message["_id"], r.report.status))
            error = r.report.error()
            failed = {
                **message,
                "provider_message_id": message.get("provider_message_id") or r.provider_message_id,
                "status": r.report.status,
                "error": error.on_message() if error else None,
                "updated_at": r.report.at,
            }
            outgoing.append(delivery_failed(failed, traces.get(r.report.event_id) or NO_TRACE))
            if message.get("conversation_id"):  # again on a redelivery: the same $set
                failures.append(
                    Failure(
                        conversation_ref(message["tenant_id"], message["conversation_id"]),
                        message["_id"],
                        r.report.status,
                        failed["error"] or {},
                        r.report.at,
                    )
                )
        await self._conversations.record_failures(failures)
        return outgoing


def _count(reports: Iterable[MessageReport], outcome: str) -> None:
    for r in reports:
        DELIVERY_REPORTS.labels(r.provider, outcome).inc()
