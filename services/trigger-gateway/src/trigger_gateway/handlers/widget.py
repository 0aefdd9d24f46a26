"""The chat widget channel, in and out (docs/architecture.md, *The chat widget*):

- `widget_channel`: the tenant's widgets (`/v1/channels/widgets`, API key);
- `widget_visitors`: public sessions, signed messages, stream tokens, the tenant's backend
  writing for a visitor (`/widget/v1/{widget_key}/...`);
- `widget_stream`: the replies as server-sent events;
- `widget_page`: the widget script and a demo page;
- `widget_cors`: CORS per widget; `widget_state`: what they share, assembled on the kit."""

from __future__ import annotations

from fastapi import FastAPI

from trigger_gateway.handlers import (
    widget_channel,
    widget_cors,
    widget_page,
    widget_stream,
    widget_visitors,
)
from trigger_gateway.settings import Settings


def install(app: FastAPI, settings: Settings) -> None:
    """The routes, and CORS in front of the request guard (after install_problem_handlers)."""
    for router in (
        widget_channel.router,
        widget_visitors.router,
        widget_stream.router,
        widget_page.router,
    ):
        app.include_router(router)
    app.add_middleware(
        widget_cors.WidgetCors,
        channel=lambda: app.state.widget_channel,
        public_url=settings.public_url,
    )
