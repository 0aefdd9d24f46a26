"""What the chat widget's routes share: the widgets, the reply log and the live reply feed,
assembled on the kit (``assemble``), and the lookup of a widget by its public key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from contracts import topics
from fastapi import Depends, Request, status
from servicekit.sealing import Keyring, SealingError
from servicekit.service import Kit
from servicekit.tail import TopicTail

from trigger_gateway.adapters.reply_feed import ReplyFeed
from trigger_gateway.adapters.widgets import (
    OpenWidget,
    ReplyLog,
    WidgetDirectory,
    WidgetRepository,
    ensure_widget_indexes,
)
from trigger_gateway.handlers.problems import ApiProblem


@dataclass(frozen=True)
class WidgetChannel:
    directory: WidgetDirectory
    replies: ReplyLog
    feed: ReplyFeed

    @property
    def widgets(self) -> WidgetRepository:
        return self.directory.widgets


async def assemble(kit: Kit, keyring: Keyring | None) -> WidgetChannel:
    """The widget channel on the kit: its index, and the tail of the replies topic feeding
    the reply streams (a background task; ready once at the end of every partition)."""
    await ensure_widget_indexes(kit.db)
    feed = ReplyFeed()
    tail = TopicTail(
        topics.REPLIES, feed.on_records, bootstrap_servers=kit.settings.kafka_bootstrap_servers
    )
    kit.background(tail.run)
    kit.checks[f"tail {topics.REPLIES}"] = tail.ready

    async def close_streams() -> None:
        feed.close()

    kit.on_stop(close_streams)
    return WidgetChannel(WidgetDirectory(WidgetRepository(kit.db), keyring), ReplyLog(kit.db), feed)


async def widget_channel(request: Request) -> WidgetChannel:
    channel: WidgetChannel = request.app.state.widget_channel
    return channel


WidgetChannelDep = Annotated[WidgetChannel, Depends(widget_channel)]


def unknown_widget(widget_key: str) -> ApiProblem:
    return ApiProblem(status.HTTP_404_NOT_FOUND, f"no widget {widget_key}")


async def known_widget(channel: WidgetChannel, widget_key: str) -> OpenWidget:
    """The widget and its secret; 404 when unknown, 503 when its secret cannot be opened
    (no KEK configured, or not the one it was sealed with)."""
    try:
        found = await channel.directory.find(widget_key)
    except SealingError as exc:
        raise ApiProblem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the widget's secret cannot be opened: {exc}",
            headers={"Retry-After": "60"},
        ) from None
    if found is None:
        raise unknown_widget(widget_key)
    return found
