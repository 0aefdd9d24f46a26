"""The notifier's consumers, each in a group of its own: notification requests, providers'
delivery status reports, and the conversation events that become the tenants' webhooks; each
in batches (one round of writes, one of sends), offsets committed after the work
(servicekit.consuming)."""

from __future__ import annotations

from contracts import topics
from servicekit.service import Kit

from notifier.delivery_status import DeliveryStatus
from notifier.routing import AgentRouter
from notifier.service import NotificationService
from notifier.webhooks import WebhookEvents

WEBHOOK_GROUP_SUFFIX = "-webhooks-triggers"
"""Customers' messages for the tenants' webhooks, read in a group of their own (the group id
+ the suffix): never holding up the notifier's own work, and starting from the end of the
topic when the group is new (an endpoint gets events from its creation on). The other
webhook events are the notifier's own (notifier.webhooks)."""


def consume(
    kit: Kit,
    service: NotificationService,
    status: DeliveryStatus,
    webhooks: WebhookEvents | None = None,
    router: AgentRouter | None = None,
) -> None:
    kit.consume(topics.NOTIFICATION_REQUESTS, on_batch=service.on_notifications_requested)
    if router is not None:
        # Keyed by tenant: one member of the group decides a tenant's assignments at a time
        # (the single writer of its agents' load: notifier.routing).
        kit.consume(topics.AGENT_ROUTING, on_batch=router.on_batch, group_suffix="-routing")
    # In a group of its own: two consumers of one group rejoining after a kill -9 kept
    # unsettling each other (the notifier never became ready again in the e2e run).
    kit.consume(
        topics.DELIVERY_STATUS,
        on_batch=status.on_delivery_status_reported,
        group_suffix="-delivery-status",
    )
    if webhooks is not None:
        consume_webhooks(kit, webhooks)


def consume_webhooks(kit: Kit, webhooks: WebhookEvents) -> None:
    kit.consume(
        topics.TRIGGERS,
        on_batch=webhooks.on_events,
        select=webhooks.select,
        group_suffix=WEBHOOK_GROUP_SUFFIX,
        new_group_from="latest",
        # a webhook may wait half a second: fetched in large batches, not one per message
        fetch_min_bytes=256 * 1024,
    )
