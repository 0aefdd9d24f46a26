"""The sandbox's Slack workspaces: their bot tokens, users and channels, and every message
posted, in memory."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

# Every workspace has these channels: a test picks the behaviour by the channel's name.
DEFAULT_CHANNELS: tuple[tuple[str, dict[str, bool]], ...] = (
    ("general", {}),
    ("random", {}),
    ("support", {}),
    ("outside", {"member": False}),  # the bot is not in it: not_in_channel
    ("old-news", {"archived": True}),  # is_archived
    ("busy", {"rate_limited": True}),  # always HTTP 429 ratelimited, Retry-After
)


def _id(prefix: str) -> str:
    return prefix + "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(10))


@dataclass
class Channel:
    id: str
    name: str
    member: bool = True
    archived: bool = False
    rate_limited: bool = False
    is_im: bool = False
    user: str | None = None  # an IM's user


@dataclass
class Posted:
    """A message as the sandbox keeps it: what chat.postMessage was given and answered."""

    team_id: str
    channel: str
    ts: str
    text: str | None
    blocks: list[Any] | None
    thread_ts: str | None
    reply_broadcast: bool
    params: dict[str, Any]
    posted_at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "channel": self.channel,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "reply_broadcast": self.reply_broadcast,
            "params": self.params,
            "posted_at": self.posted_at,
        }


@dataclass
class Workspace:
    team_id: str
    name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    users: list[str]
    channels: dict[str, Channel] = field(default_factory=dict)
    revoked: bool = False

    def channel(self, named: str) -> Channel | None:
        """By id (C..., G..., D...), by name (`#general` or `general`), or a user's IM (U...)."""
        if named in self.channels:
            return self.channels[named]
        name = named.removeprefix("#")
        for channel in self.channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        if named in self.users:  # posting to a user id posts in the bot's IM with them
            for channel in self.channels.values():
                if channel.is_im and channel.user == named:
                    return channel
            im = Channel(_id("D"), named, is_im=True, user=named)
            self.channels[im.id] = im
            return im
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "team_id": self.team_id,
            "name": self.name,
            "bot_token": self.bot_token,
            "bot_user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "users": self.users,
            "revoked": self.revoked,
            "channels": [
                {
                    "id": c.id,
                    "name": c.name,
                    "member": c.member,
                    "archived": c.archived,
                    "rate_limited": c.rate_limited,
                }
                for c in self.channels.values()
                if not c.is_im
            ],
        }


class SlackState:
    def __init__(self) -> None:
        self.workspaces: dict[str, Workspace] = {}
        self.by_token: dict[str, Workspace] = {}
        self.messages: list[Posted] = []
        self._seq = itertools.count(1)

    def reset(self) -> None:
        self.workspaces.clear()
        self.by_token.clear()
        self.messages.clear()

    def new_workspace(
        self, name: str, channels: list[dict[str, Any]], users: list[str] | None
    ) -> Workspace:
        workspace = Workspace(
            team_id=_id("T"),
            name=name,
            bot_token=f"xoxb-{secrets.randbelow(10**12):012d}-{secrets.token_hex(12)}",
            bot_user_id=_id("U"),
            bot_id=_id("B"),
            users=list(users) if users is not None else [_id("U")],
        )
        wanted = [(n, dict(o)) for n, o in DEFAULT_CHANNELS]
        wanted += [(str(c["name"]).removeprefix("#"), c) for c in channels]
        for name_, options in wanted:
            channel = Channel(
                _id("C"),
                name_,
                member=bool(options.get("member", True)),
                archived=bool(options.get("archived", False)),
                rate_limited=bool(options.get("rate_limited", False)),
            )
            workspace.channels[channel.id] = channel
        self.workspaces[workspace.team_id] = workspace
        self.by_token[workspace.bot_token] = workspace
        return workspace

    def ts(self) -> str:
        """A message's ts: epoch seconds and a sequence, unique in the sandbox (Slack's are
        unique per channel)."""
        return f"{int(time.time())}.{next(self._seq):06d}"
