"""Providers' reports on outbound messages (DeliveryStatusReported, from Twilio's status callbacks
through the gateway): each recorded on its message (history once per event id, status only
forward), a failure also on the conversation (``last_delivery_failure``) and announced with
DeliveryFailed, so a message that did not arrive is never silent.

A report is kept (``delivery_reports``) before its message is looked up: one about a message
whose sid is not written yet (the callback overtook the create's answer) is applied by the
sending path once it writes the sid (``TwilioSending.record``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
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
from notifier.domain.lifecycle import Report, StatusChange, apply_reports
from notifier.publishing import Announce, Outgoing, delivery_failed, nobody, publish_all
from notifier.telemetry import DELIVERY_REPORTS, tracer

Document = dict[str, Any]
GROUP = "notifier"
Reported = Callable[[list[Envelope[Any]]], Awaitable[None]]


class DeliveryStatus:
    def __init__(
        self,
        messages: MessageLog,
        conversations: ConversationUpdates,
        publish: Publish,
        *,
        announce: Announce = nobody,
        reported: Reported | None = None,
    ) -> None:
        """``announce``: told what was published; ``reported``: given the consumed reports
        after they are recorded (both: the tenants' webhooks)."""
        self._messages = messages
        self._conversations = conversations
        self._publish = publish
        self._announce = announce
        self._reported = reported

    async def on_delivery_status_reported(
        self, envelopes: list[Envelope[DeliveryStatusReported]]
    ) -> None:
        """Keep the batch's reports, find their messages (one read per tenant and provider),
        record what they change, then announce the failures."""
        by_source: dict[tuple[str, str], dict[str, list[Report]]] = {}
        traces: dict[str, TraceContext] = {}
        for envelope in envelopes:
            event = envelope.data
            with consuming(tracer, topics.DELIVERY_STATUS, envelope, group=GROUP):
                traces[event.provider_message_id] = current_trace()
            report = Report(
                event_id=event.event_id,
                status=event.status,
                at=event.reported_at,
                error_code=event.error_code,
                error_message=event.error_message,
            )
            source = (event.tenant_id, event.provider)
            by_source.setdefault(source, {}).setdefault(event.provider_message_id, []).append(
                report
            )
        outgoing: list[Outgoing] = []
        now = datetime.now(UTC)
        for (tenant, provider), reports in by_source.items():
            kept = [(sid, r) for sid, rs in reports.items() for r in rs]
            await self._messages.keep_reports(tenant, provider, kept)
            found = await self._messages.by_provider_ids(tenant, provider, reports)
            for sid in reports:
                DELIVERY_REPORTS.labels(provider, "matched" if sid in found else "kept").inc(
                    len(reports[sid])
                )
            outgoing += await self.apply(found, reports, now, traces)
        await publish_all(self._publish, outgoing)
        await self._announce(outgoing)
        if self._reported is not None:
            await self._reported(list(envelopes))

    async def apply(
        self,
        messages: Mapping[str, Document],
        reports: Mapping[str, list[Report]],
        now: datetime,
        traces: Mapping[str, TraceContext],
    ) -> list[Outgoing]:
        """Record ``reports`` (by provider message id) on their ``messages``; the failures to
        announce."""
        changes: list[StatusChange] = []
        failures: list[Failure] = []
        outgoing: list[Outgoing] = []
        for sid, message in messages.items():
            change = apply_reports(message, reports.get(sid, []))
            if change:
                changes.append(change)
            if change.failed is None:
                continue
            error = change.failed.error()
            failed = {
                **message,
                "status": change.failed.status,
                "error": error.on_message() if error else None,
                "updated_at": change.failed.at,
            }
            outgoing.append(delivery_failed(failed, traces.get(sid) or NO_TRACE))
            if message.get("conversation_id"):  # again on a redelivery: the same $set
                failures.append(
                    Failure(
                        conversation_ref(message["tenant_id"], message["conversation_id"]),
                        message["_id"],
                        change.failed.status,
                        failed["error"] or {},
                        change.failed.at,
                    )
                )
        await asyncio.gather(
            self._messages.apply(changes, now), self._conversations.record_failures(failures)
        )
        return outgoing
