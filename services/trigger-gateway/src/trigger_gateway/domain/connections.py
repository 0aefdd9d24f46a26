"""A tenant's connection to a system of record, as the integrations service reads it.

Two modes for now: `echo` answers every action with its own parameters (to try workflows out),
`http` forwards each action to a service of the tenant's (`POST {base_url}/{action}`). Provider
credentials are not accepted until they can be stored encrypted: a URL carrying a user or
password, a query string or a fragment is refused, so nothing secret is ever stored here."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

INTEGRATION_TYPES: tuple[str, ...] = (
    "shopify",
    "stripe",
    "salesforce",
    "hubspot",
    "jira",
    "postgres",
    "zendesk",
    "odoo",
    "openai",
)
"""The systems of record the integrations service answers for (the executor's integration
nodes name them; AI Generate asks `openai`). Messaging (Slack, Teams, SendGrid, Twilio) is the
notifier's."""


class EchoConnection(BaseModel):
    """Answers `{"echo": params, "action": action}` without calling anything."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["echo"]


class HttpConnection(BaseModel):
    """POSTs `{action, params, idempotency_key}` to `{base_url}/{action}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["http"]
    base_url: str = Field(
        max_length=500,
        # what the validator below accepts, said in the schema too: a host, no credentials,
        # no query string or fragment
        pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s?#]*)?$",
        examples=["http://127.0.0.1:9000"],
    )
    timeout_seconds: float = Field(10, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _plain_http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials (user or password)")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query string or fragment")
        return value.strip().rstrip("/")


ConnectionSpec = Annotated[EchoConnection | HttpConnection, Field(discriminator="mode")]
