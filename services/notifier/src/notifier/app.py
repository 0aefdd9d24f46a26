"""The notifier, assembled from the service kit: delivers messages to people and settles the
waiting executions."""

from __future__ import annotations

from contracts import topics
from servicekit.service import Kit, Service
from starlette.applications import Starlette

from notifier.adapters.store import NotificationRepository
from notifier.service import NotificationService
from notifier.settings import Settings

NAME = "notifier"


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()

    async def assemble(kit: Kit) -> None:
        notifications = NotificationRepository(kit.db)
        await notifications.ensure_indexes()
        service = NotificationService(notifications, kit.publish)
        # requests in batches: one write, one round of sends
        kit.consume(topics.NOTIFICATION_REQUESTS, on_batch=service.on_notifications_requested)

    return Service(NAME, settings, assemble).starlette()
