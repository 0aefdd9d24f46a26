"""A tenant's team chats as the API accepts them: a Slack workspace's bot token (sealed at
rest, never answered) and default channel; named Microsoft Teams incoming webhooks, whose URLs
are credentials (anyone holding one can post to the channel): sealed, never answered, shown
by fingerprint and host. The notifier opens them to post (notifier.chatops_sending). Pure:
no I/O."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

SLACK_BOT_TOKEN = "slack.bot_token"
TEAMS_WEBHOOK_URL = "teams.webhook_url"
"""The purposes they are sealed for (servicekit.sealing); the notifier opens them so."""

BOT_TOKEN = r"^xox[bp]-[0-9A-Za-z-]{10,250}$"
SLACK_CHANNEL = r"^(#[a-z0-9][a-z0-9_-]{0,79}|[CGDUW][A-Z0-9]{8,20})$"
WEBHOOK_NAME = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$"
MAX_WEBHOOKS = 20
MAX_WEBHOOK_URL = 2048


class SlackConnectionSpec(BaseModel):
    """`PUT /v1/channels/slack`: the app's bot token and the channel posts go to by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    bot_token: Annotated[
        SecretStr | None,
        Field(
            description="The Slack app's bot token (`xoxb-...`, scope chat:write): sealed at "
            "rest, never answered. May be left out to keep the stored one; otherwise 409.",
            json_schema_extra={"pattern": BOT_TOKEN},
        ),
    ] = None
    default_channel: str | None = Field(
        None,
        pattern=SLACK_CHANNEL,
        description="Where a Slack node without a channel posts: a channel id (`C...`), a "
        "`#name` or a user id (the bot's direct message).",
        examples=["#support", "C0123456789"],
    )

    @field_validator("bot_token")
    @classmethod
    def _token_form(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and not re.fullmatch(BOT_TOKEN, token.get_secret_value()):
            raise ValueError("must be a Slack bot token (xoxb-...)")
        return token


class TeamsWebhookSpec(BaseModel):
    """One incoming webhook of a Teams channel, by the name workflows use for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=WEBHOOK_NAME, examples=["support"])
    url: Annotated[
        SecretStr | None,
        Field(
            description="The incoming webhook's URL (https): a credential, sealed at rest, "
            "never answered. May be left out to keep the stored URL of this name; otherwise "
            "409.",
            json_schema_extra={"format": "uri", "maxLength": MAX_WEBHOOK_URL},
        ),
    ] = None

    @field_validator("url")
    @classmethod
    def _short(cls, url: SecretStr | None) -> SecretStr | None:
        if url is not None and len(url.get_secret_value()) > MAX_WEBHOOK_URL:
            raise ValueError(f"must be at most {MAX_WEBHOOK_URL} characters")
        return url


class TeamsConnectionSpec(BaseModel):
    """`PUT /v1/channels/teams`: the webhooks (replacing those stored) and the default one."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    webhooks: list[TeamsWebhookSpec] = Field(min_length=1, max_length=MAX_WEBHOOKS)
    default_webhook: str | None = Field(
        None, description="The webhook a Teams node naming none posts to (one of `webhooks`)."
    )

    @field_validator("webhooks")
    @classmethod
    def _each_name_once(cls, webhooks: list[TeamsWebhookSpec]) -> list[TeamsWebhookSpec]:
        names = [w.name for w in webhooks]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"listed twice: {', '.join(twice)}")
        return webhooks

    @model_validator(mode="after")
    def _default_is_listed(self) -> TeamsConnectionSpec:
        if self.default_webhook is not None and self.default_webhook not in {
            w.name for w in self.webhooks
        }:
            raise ValueError(f"default_webhook {self.default_webhook!r} is not one of webhooks")
        return self
