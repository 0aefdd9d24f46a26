"""Slack's Web API paths the project calls: `POST /api/chat.postMessage` and `auth.test`.

As Slack: a method's arguments come form-encoded, as JSON (`application/json`; the token then
only in `Authorization: Bearer`) or in the query string; the token is the `Authorization:
Bearer` header or a `token` argument. Answers are HTTP 200 `{"ok": true, ...}` or `{"ok":
false, "error": "..."}`; a rate-limited call is HTTP 429 with `Retry-After` (seconds) and
`{"ok": false, "error": "ratelimited"}`."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .state import Posted, SlackState, Workspace

MAX_TEXT = 40_000  # characters: Slack refuses longer text with msg_too_long
MAX_BLOCKS = 50
RETRY_AFTER_SECONDS = 1


def _error(error: str, status: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": error}, status_code=status, headers=headers)


async def _arguments(request: Request) -> tuple[dict[str, Any], str | None]:
    """The call's arguments and its token (None when it has none)."""
    args: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    from_json = False
    if content_type.startswith("application/json"):
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if isinstance(body, dict):
            args.update(body)
            from_json = True
    elif content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    token = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    elif not from_json and isinstance(args.get("token"), str):
        token = args["token"]
    args.pop("token", None)
    return args, token


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def _blocks(value: Any) -> tuple[list[Any] | None, str | None]:
    """The blocks argument (a JSON array, or its text in a form), or the error it earns."""
    if value is None or value == "":
        return None, None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None, "invalid_blocks_format"
    if not isinstance(value, list):
        return None, "invalid_blocks_format"
    if len(value) > MAX_BLOCKS or not all(
        isinstance(b, dict) and isinstance(b.get("type"), str) for b in value
    ):
        return None, "invalid_blocks"
    return value, None


def web_api_router(state: SlackState) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["slack"])

    def authed(token: str | None) -> Workspace | JSONResponse:
        if not token:
            return _error("not_authed")
        workspace = state.by_token.get(token)
        if workspace is None:
            return _error("invalid_auth")
        if workspace.revoked:
            return _error("token_revoked")
        return workspace

    @router.api_route("/auth.test", methods=["GET", "POST"])
    async def auth_test(request: Request) -> JSONResponse:
        _, token = await _arguments(request)
        workspace = authed(token)
        if isinstance(workspace, JSONResponse):
            return workspace
        return JSONResponse(
            {
                "ok": True,
                "url": f"https://{workspace.name.lower().replace(' ', '-')}.slack.com/",
                "team": workspace.name,
                "user": "connectflo",
                "team_id": workspace.team_id,
                "user_id": workspace.bot_user_id,
                "bot_id": workspace.bot_id,
                "is_enterprise_install": False,
            }
        )

    @router.post("/chat.postMessage")
    async def post_message(request: Request) -> JSONResponse:
        args, token = await _arguments(request)
        workspace = authed(token)
        if isinstance(workspace, JSONResponse):
            return workspace
        named = args.get("channel")
        channel = workspace.channel(named) if isinstance(named, str) and named else None
        if channel is None:
            return _error("channel_not_found")
        if channel.rate_limited:
            return _error("ratelimited", 429, **{"Retry-After": str(RETRY_AFTER_SECONDS)})
        if channel.archived:
            return _error("is_archived")
        if not channel.member:
            return _error("not_in_channel")
        blocks, invalid = _blocks(args.get("blocks"))
        if invalid:
            return _error(invalid)
        text = args.get("text")
        text = text if isinstance(text, str) and text else None
        if text is None and not blocks and not args.get("attachments"):
            return _error("no_text")
        if text is not None and len(text) > MAX_TEXT:
            return _error("msg_too_long")
        thread_ts = args.get("thread_ts")
        thread_ts = str(thread_ts) if thread_ts else None
        ts = state.ts()
        posted = Posted(
            team_id=workspace.team_id,
            channel=channel.id,
            ts=ts,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            reply_broadcast=_flag(args.get("reply_broadcast")),
            params={k: v for k, v in args.items() if k not in ("channel", "text", "blocks")},
            posted_at=time.time(),
        )
        state.messages.append(posted)
        message: dict[str, Any] = {
            "user": workspace.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": workspace.bot_id,
            "text": text or "",
            "team": workspace.team_id,
        }
        if blocks:
            message["blocks"] = blocks
        if thread_ts:
            message["thread_ts"] = thread_ts
            message["parent_user_id"] = workspace.bot_user_id
        return JSONResponse({"ok": True, "channel": channel.id, "ts": ts, "message": message})

    @router.api_route("/{method}", methods=["GET", "POST"])
    async def unknown(method: str) -> JSONResponse:
        return _error("unknown_method", 404)

    return router
