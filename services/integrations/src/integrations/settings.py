"""Configuration from the environment: prefix INTEGRATIONS_, plus the shared infrastructure
names (servicekit.settings)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTEGRATIONS_")

    port: int = 8083
    group_id: str = "connectflo-integrations"
    connection_cache_seconds: float = Field(
        5.0, description="How long a tenant's connection is cached (a change applies within it)."
    )
    max_response_bytes: int = Field(
        512 * 1024, description="Largest answer an http connection may give (it travels on Kafka)."
    )
    max_calls_in_flight: int = Field(
        64, ge=1, description="Calls in flight at once across tenants (taken in turn by tenant)."
    )
    max_active_per_tenant: int = Field(
        64,
        ge=1,
        description="Requests of one tenant worked on at once; the rest of its backlog waits.",
    )
    max_queued: int = Field(
        20_000, ge=1, description="Requests read and not finished (waiting for their rate limit)."
    )
    retry_budget_seconds: float = Field(
        20.0,
        ge=0,
        description="How long transient errors are retried before the workflow sees one.",
    )
    max_attempts: int = Field(4, ge=1, le=20, description="Attempts per call at most.")
    oauth_refresh_leeway_seconds: float = Field(
        60,
        ge=0,
        le=3600,
        description="An OAuth access token this close to expiry is renewed first.",
    )
