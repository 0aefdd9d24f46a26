"""A tenant's connection to a system of record: the spec's Integration model, shared by the
gateway (which validates and stores it) and the integrations service (which uses it).

A connection has a type (the provider), a name, non-secret ``config`` and write-only
``credentials``. Each type declares both shapes here, once:

- ``config``: where the provider is and how it is to be used (a shop's domain, an instance
  URL, a read-only flag). ``base_url`` replaces the scheme and host of the provider's real API
  (the provider sandbox in tests, a proxy in production); the paths stay the provider's.
- ``credentials``: what the provider authenticates with. The gateway seals them
  (servicekit.sealing, purpose ``connection.credentials``) and never returns them, only a
  fingerprint; only the integrations service opens them.

``mode`` says who answers: ``provider`` (the type's real client), ``echo`` (the action's
parameters back, to try a workflow out) or ``http`` (``POST {base_url}/{action}`` to a service
of the tenant's). The Slack, Teams, SendGrid and Twilio channels are the notifier's, not
connections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts.urls import plain_http_url

Auth = Literal["api_key", "basic", "oauth", "dsn", "none"]
SEALING_PURPOSE = "connection.credentials"


def credentials_purpose(connection_id: str) -> str:
    """What a connection's credentials are sealed for: that one connection (copied into another
    they do not open)."""
    return f"{SEALING_PURPOSE}:{connection_id}"


# a key or token goes into an HTTP header: visible ASCII only (RFC 9110 field values)
TOKEN = r"^[\x21-\x7e]+$"
_URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s?#]*)?$"


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(_Shape):
    """What every type's config has: where its API is, if not the provider's own."""

    base_url: str | None = Field(
        None,
        max_length=500,
        pattern=_URL,
        description="Replaces the scheme and host of the provider's API (a sandbox, a proxy).",
    )
    timeout_seconds: float = Field(10, gt=0, le=120)

    @field_validator("base_url")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        return None if value is None else plain_http_url(value)


class StripeConfig(ProviderConfig):
    pass


class StripeCredentials(_Shape):
    api_key: str = Field(
        min_length=8, max_length=300, pattern=TOKEN, description="A secret or restricted key."
    )


class ShopifyConfig(ProviderConfig):
    shop: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$", examples=["acme.myshopify.com"]
    )
    api_version: str = Field("2026-10", pattern=r"^20[0-9]{2}-(01|04|07|10)$")


class ShopifyCredentials(_Shape):
    access_token: str = Field(min_length=8, max_length=500, pattern=TOKEN)


class SalesforceConfig(ProviderConfig):
    instance_url: str = Field(
        max_length=300, pattern=_URL, examples=["https://acme.my.salesforce.com"]
    )
    api_version: str = Field("v62.0", pattern=r"^v[0-9]{2}\.0$")


class OAuthCredentials(_Shape):
    access_token: str = Field(min_length=8, max_length=4000, pattern=TOKEN)
    refresh_token: str | None = Field(None, min_length=8, max_length=4000, pattern=TOKEN)


class HubSpotConfig(ProviderConfig):
    pass


class HubSpotCredentials(_Shape):
    access_token: str = Field(
        min_length=8, max_length=4000, pattern=TOKEN, description="Private app or OAuth."
    )
    refresh_token: str | None = Field(None, min_length=8, max_length=4000, pattern=TOKEN)


class JiraConfig(ProviderConfig):
    site: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,60}\.atlassian\.net$", examples=["acme.atlassian.net"]
    )
    cloud_id: str | None = Field(
        None,
        pattern=r"^[0-9a-f-]{36}$",
        description="The site's cloud id: set by the OAuth flow (OAuth calls are addressed by it).",
    )


class JiraCredentials(_Shape):
    """Basic auth with an Atlassian account's email and API token, or OAuth tokens."""

    email: str | None = Field(None, max_length=254)
    api_token: str | None = Field(None, min_length=8, max_length=500, pattern=TOKEN)
    access_token: str | None = Field(None, min_length=8, max_length=4000, pattern=TOKEN)
    refresh_token: str | None = Field(None, min_length=8, max_length=4000, pattern=TOKEN)


class ZendeskConfig(ProviderConfig):
    subdomain: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", examples=["acme"])


class ZendeskCredentials(_Shape):
    """An agent's email with an API token (basic auth ``email/token``), or an OAuth token."""

    email: str | None = Field(None, max_length=254)
    api_token: str | None = Field(None, min_length=8, max_length=500, pattern=TOKEN)
    access_token: str | None = Field(None, min_length=8, max_length=4000, pattern=TOKEN)
    refresh_token: str | None = Field(None, min_length=8, max_length=4000, pattern=TOKEN)


class OdooConfig(ProviderConfig):
    url: str = Field(max_length=300, pattern=_URL, examples=["https://acme.odoo.com"])
    database: str = Field(min_length=1, max_length=100)


class OdooCredentials(_Shape):
    username: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=500, description="A password or API key.")


class PostgresConfig(_Shape):
    read_only: bool = Field(True, description="Statements run in a read-only transaction.")
    statement_timeout_ms: int = Field(5000, ge=100, le=120_000)
    max_rows: int = Field(1000, ge=1, le=10_000)
    timeout_seconds: float = Field(10, gt=0, le=120)


class PostgresCredentials(_Shape):
    dsn: str = Field(min_length=10, max_length=2000, examples=["postgresql://u:p@host:5432/db"])


class OpenAIConfig(ProviderConfig):
    pass


class OpenAICredentials(_Shape):
    api_key: str = Field(min_length=8, max_length=300, pattern=TOKEN)


class NoCredentials(_Shape):
    pass


@dataclass(frozen=True)
class ConnectionType:
    """One provider: its config and credentials shapes, and how it authenticates."""

    name: str
    config: type[BaseModel]
    credentials: type[BaseModel]
    auth: tuple[Auth, ...]
    oauth: bool = False  # the gateway runs the authorization-code flow for it


CONNECTION_TYPES: dict[str, ConnectionType] = {
    t.name: t
    for t in (
        ConnectionType("stripe", StripeConfig, StripeCredentials, ("api_key",)),
        ConnectionType("shopify", ShopifyConfig, ShopifyCredentials, ("api_key", "oauth"), True),
        ConnectionType("salesforce", SalesforceConfig, OAuthCredentials, ("oauth",), True),
        ConnectionType("hubspot", HubSpotConfig, HubSpotCredentials, ("api_key", "oauth"), True),
        ConnectionType("jira", JiraConfig, JiraCredentials, ("basic", "oauth"), True),
        ConnectionType("zendesk", ZendeskConfig, ZendeskCredentials, ("basic", "oauth"), True),
        ConnectionType("odoo", OdooConfig, OdooCredentials, ("basic",)),
        ConnectionType("postgres", PostgresConfig, PostgresCredentials, ("dsn",)),
        ConnectionType("openai", OpenAIConfig, OpenAICredentials, ("api_key",)),
    )
}
"""The systems of record the integrations service answers for (the executor's integration
nodes name them; AI Generate asks ``openai``)."""


class Limits(_Shape):
    """How fast one connection may call its provider: ``rate`` calls per ``per_seconds`` with
    bursts up to ``burst``, at most ``concurrency`` at once. Each type has the provider's
    documented limits as defaults; a connection may override them."""

    rate: float = Field(gt=0, le=100_000)
    per_seconds: float = Field(1.0, gt=0, le=3600)
    burst: int | None = Field(None, ge=1, le=100_000)
    concurrency: int = Field(8, ge=1, le=256)


def credentials_of(type_name: str, raw: dict[str, Any]) -> BaseModel:
    """The credentials as the type declares them (pydantic's ValidationError otherwise)."""
    return CONNECTION_TYPES[type_name].credentials.model_validate(raw)


def config_of(type_name: str, raw: dict[str, Any]) -> BaseModel:
    return CONNECTION_TYPES[type_name].config.model_validate(raw)
