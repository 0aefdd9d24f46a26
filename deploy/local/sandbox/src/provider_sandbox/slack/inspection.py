"""For tests: make a workspace (its bot token, users, channels), revoke its token, list what was
posted, forget everything (`DELETE /sandbox/slack`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from .state import SlackState


class ChannelSpec(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    member: bool = True
    archived: bool = False
    rate_limited: bool = False


class WorkspaceSpec(BaseModel):
    name: str = Field("Acme", min_length=1, max_length=80)
    channels: list[ChannelSpec] = Field(default_factory=list)
    users: list[str] | None = None


def inspection_router(state: SlackState) -> APIRouter:
    router = APIRouter(prefix="/sandbox/slack", tags=["sandbox"])

    @router.post("/workspaces", status_code=201)
    async def new_workspace(spec: WorkspaceSpec) -> dict[str, Any]:
        channels = [c.model_dump() for c in spec.channels]
        return state.new_workspace(spec.name, channels, spec.users).summary()

    @router.get("/workspaces/{team_id}")
    async def workspace(team_id: str) -> dict[str, Any]:
        found = state.workspaces.get(team_id)
        if found is None:
            raise HTTPException(404, f"no workspace {team_id}")
        return found.summary()

    @router.post("/workspaces/{team_id}/revoke")
    async def revoke(team_id: str) -> dict[str, Any]:
        """The bot token revoked: every later call answers token_revoked."""
        found = state.workspaces.get(team_id)
        if found is None:
            raise HTTPException(404, f"no workspace {team_id}")
        found.revoked = True
        return found.summary()

    @router.get("/messages")
    async def messages(team_id: str | None = None, channel: str | None = None) -> dict[str, Any]:
        """Every message posted, oldest first (`channel` by id)."""
        found = [
            m.to_json()
            for m in state.messages
            if (team_id is None or m.team_id == team_id)
            and (channel is None or m.channel == channel)
        ]
        return {"messages": found}

    @router.delete("")
    async def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return router
