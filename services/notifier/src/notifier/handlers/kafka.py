"""The notifier's consumer: notification requests in, in batches (one write, one round of
sends); offsets committed after the work (servicekit.consuming)."""

from __future__ import annotations

from contracts import topics
from servicekit.service import Kit

from notifier.service import NotificationService


def consume(kit: Kit, service: NotificationService) -> None:
    kit.consume(topics.NOTIFICATION_REQUESTS, on_batch=service.on_notifications_requested)
