"""Configuration from the environment: prefix SCHEDULER_, plus the shared infrastructure names."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_")

    host: str = "127.0.0.1"
    port: int = 8082
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias=AliasChoices("MONGO_URI"))
    mongo_database: str = Field("connectflo", validation_alias=AliasChoices("MONGO_DATABASE"))
    group_id: str = "connectflo-scheduler"
    handling_attempts: int = Field(
        3, description="Attempts at one message before it goes to the dead-letter topic."
    )
    page_size: int = Field(200, description="Due timers fetched and fired per round trip.")
    longest_sleep_seconds: float = Field(
        30,
        description="The firing loop sleeps until the next timer is due, or a new request or "
        "assignment wakes it, but never longer than this.",
    )
    settled_retention_hours: float = Field(
        168, description="Fired and cancelled timers (and tombstones) are kept this long."
    )
