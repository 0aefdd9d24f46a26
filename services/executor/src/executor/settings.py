"""Configuration from the environment: prefix EXECUTOR_, plus the shared infrastructure names
(servicekit.settings)."""

from pydantic import Field
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
