"""Configuration from the environment: prefix EXECUTOR_, plus the shared infrastructure names."""

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EXECUTOR_")

    host: str = "127.0.0.1"
    port: int = 8081
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias=AliasChoices("MONGO_URI"))
    mongo_database: str = Field("connectflo", validation_alias=AliasChoices("MONGO_DATABASE"))
    group_id: str = "connectflo-executor"
    max_steps_per_command: int = Field(
        500, description="Node runs per command before the execution continues in a new command."
    )
    max_running_seconds: float = Field(
        3600, description="Default running-time limit of an execution (time not spent waiting)."
    )
    max_waiting_seconds: float = Field(
        7 * 24 * 3600, description="Default limit on one wait (for a reply, a timer, a service)."
    )
    max_subworkflow_depth: int = Field(5, description="Execute Workflow nesting limit.")
    batch_max_records: int = Field(
        100, description="Records handled together per poll (one round of writes and sends)."
    )
    handling_attempts: int = Field(
        3, description="Attempts at one message before it goes to the dead-letter topic."
    )
