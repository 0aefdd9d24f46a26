"""Configuration from the environment: prefix EXECUTOR_, plus the shared infrastructure names
(servicekit.settings)."""

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="EXECUTOR_")

    port: int = 8081
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
    integrations_url: str = Field(
        "http://127.0.0.1:8083",
        description="The integrations service: it classifies the messages of tenants whose "
        "classification engine is openai.",
    )
    classify_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long a message's intake waits for the openai engine before the local "
        "classifier answers instead.",
    )
    preview_timeout_seconds: float = Field(
        5.0,
        gt=0,
        description="How long a preview (POST /v1/workflows/preview) may run; the gateway "
        "waits 10 s for the executor, so keep it below that.",
    )
    preview_max_node_runs: int = Field(
        10_000, gt=0, description="How many node runs a preview may take."
    )
    watch_bucket_seconds: int = Field(
        60,
        gt=0,
        validation_alias=AliasChoices("CONNECTFLO_WATCH_BUCKET_SECONDS"),
        description="The slot of an execution's last write that the scheduler's watchdog "
        "reads it by (contracts.watchdog); the same value for the executor and the scheduler.",
    )
