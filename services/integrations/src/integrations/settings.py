"""Configuration from the environment: prefix INTEGRATIONS_, plus the shared infra names."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INTEGRATIONS_")

    host: str = "127.0.0.1"
    port: int = 8083
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias=AliasChoices("MONGO_URI"))
    mongo_database: str = Field("connectflo", validation_alias=AliasChoices("MONGO_DATABASE"))
    group_id: str = "connectflo-integrations"
    handling_attempts: int = Field(
        3, description="Attempts at one message before it goes to the dead-letter topic."
    )
    connection_cache_seconds: float = Field(
        5.0, description="How long a tenant's connection is cached (a change applies within it)."
    )
    max_response_bytes: int = Field(
        512 * 1024, description="Largest answer an http connection may give (it travels on Kafka)."
    )
