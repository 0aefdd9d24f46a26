"""The widget script (`GET /widget/v1/widget.js`, no dependencies) and a demo page that embeds
it (`GET /widget/demo?key=wk_...`), served from `widget_assets/`. Not part of the API document:
they are a page's, not an API client's."""

from __future__ import annotations

import html
from importlib.resources import files
from string import Template
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from trigger_gateway.handlers.deps import GatewayDep
from trigger_gateway.handlers.widget_state import WidgetChannelDep, known_widget

router = APIRouter(include_in_schema=False)
_ASSETS = files("trigger_gateway") / "widget_assets"
SCRIPT = (_ASSETS / "widget.js").read_bytes()
DEMO = Template((_ASSETS / "demo.html").read_text())


@router.get("/widget/v1/widget.js")
async def widget_script() -> Response:
    return Response(
        SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )


@router.get("/widget/demo")
async def demo_page(
    key: Annotated[str, Query(max_length=100, description="The widget key.")],
    gw: GatewayDep,
    channel: WidgetChannelDep,
    name: Annotated[str, Query(max_length=100)] = "Ada",
) -> HTMLResponse:
    """A page embedding widget ``key`` (404 when there is none); ``name``: what the visitor
    calls itself."""
    await known_widget(channel, key)
    page = DEMO.substitute(
        widget_key=html.escape(key),
        visitor_name=html.escape(name),
        script_url=html.escape(gw.settings.public_url.rstrip("/") + "/widget/v1/widget.js"),
    )
    return HTMLResponse(page)
