"""Configuration from the environment: prefix NOTIFIER_, plus the shared infrastructure names."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    host: str = "127.0.0.1"
    port: int = 8084
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias=AliasChoices("MONGO_URI"))
    mongo_database: str = Field("connectflo", validation_alias=AliasChoices("MONGO_DATABASE"))
    group_id: str = "connectflo-notifier"
    batch_max_records: int = Field(
        100, description="Records handled together per poll (one write, one round of sends)."
    )
    batch_timeout_ms: int = Field(
        5, description="Poll wait for the first record; bounds the latency added when quiet."
    )
    handling_attempts: int = Field(
        3, description="Attempts at one message before it goes to the dead-letter topic."
    )
