"""The notifier, assembled from the service kit: delivers messages to people and settles the
waiting executions."""

from __future__ import annotations

from functools import partial

from servicekit.service import Kit, Service
from starlette.applications import Starlette

from notifier.adapters.store import NotificationRepository
from notifier.handlers.kafka import consume
from notifier.service import NotificationService
from notifier.settings import Settings

NAME = "notifier"


async def assemble(kit: Kit, settings: Settings) -> None:
    notifications = NotificationRepository(kit.db)
    await notifications.ensure_indexes()
    consume(kit, NotificationService(notifications, kit.publish))


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    return Service(NAME, settings, partial(assemble, settings=settings)).starlette()
