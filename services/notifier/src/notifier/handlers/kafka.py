"""The notifier's consumers, in one group: notification requests, and providers' delivery
status reports; each in batches (one round of writes, one of sends), offsets committed after
the work (servicekit.consuming)."""

from __future__ import annotations

from contracts import topics
from servicekit.service import Kit

from notifier.delivery_status import DeliveryStatus
from notifier.service import NotificationService


def consume(kit: Kit, service: NotificationService, status: DeliveryStatus) -> None:
    kit.consume(topics.NOTIFICATION_REQUESTS, on_batch=service.on_notifications_requested)
    # In a group of its own: two consumers of one group rejoining after a kill -9 kept
    # unsettling each other (the notifier never became ready again in the e2e run).
    kit.consume(
        topics.DELIVERY_STATUS,
        on_batch=status.on_delivery_status_reported,
        group_suffix="-delivery-status",
    )
