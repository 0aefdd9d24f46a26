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
