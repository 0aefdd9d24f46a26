"""The settings every service shares; a service subclasses them with its own env prefix."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings


class ServiceSettings(BaseSettings):
    """Host, port and consumer group are read with the service's prefix (``EXECUTOR_PORT``);
    the infrastructure names are shared by every service (``KAFKA_BOOTSTRAP_SERVERS``)."""

    host: str = "127.0.0.1"
    port: int = 8080
    group_id: str = Field("connectflo", description="The Kafka consumer group of this service.")
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias=AliasChoices("MONGO_URI"))
    mongo_database: str = Field("connectflo", validation_alias=AliasChoices("MONGO_DATABASE"))
    mongo_timeout_seconds: float = Field(
        30, description="How long a MongoDB operation waits for a reachable server."
    )
    mongo_max_pool_size: int = Field(
        8,
        ge=1,
        validation_alias=AliasChoices("MONGO_MAX_POOL_SIZE"),
        description="Connections to MongoDB per process: operations beyond wait for one. "
        "Bounded so that FerretDB's own pool never runs dry: FerretDB 1.24 holds one of its "
        "connections for an update's query while it waits for another to write, so more "
        "concurrent updates than half its pool (SQLite 100, PostgreSQL 250 here) deadlock "
        "the server (deploy/local/infra/ferretdb.sh). Six processes of 8: at most 96.",
    )
    publish_timeout_seconds: float = Field(
        30, description="How long a publish waits for the broker's acknowledgement."
    )
    handling_attempts: int = Field(
        3, description="Attempts at one message before it goes to the dead-letter topic."
    )
    batch_max_records: int = Field(
        100, description="Records handled together per batch (one round of writes and sends)."
    )
    log_level: str = Field(
        "INFO", validation_alias=AliasChoices("LOG_LEVEL"), description="Root log level."
    )
