"""Configuration from the environment: prefix GATEWAY_, plus the shared infrastructure names."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    host: str = "127.0.0.1"
    port: int = 8080
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias=AliasChoices("MONGO_URI"))
    mongo_database: str = Field("connectflo", validation_alias=AliasChoices("MONGO_DATABASE"))
    admin_token: str = Field(
        "dev-admin-token",
        description="Guards tenant creation. Set a real secret outside development.",
    )
    executor_url: str = Field(
        "http://127.0.0.1:8081",
        validation_alias=AliasChoices("GATEWAY_EXECUTOR_URL", "EXECUTOR_URL"),
        description="The executor validates workflow definitions before they are saved.",
    )
    public_url: str = Field("http://127.0.0.1:8080", description="Base URL printed in links.")
