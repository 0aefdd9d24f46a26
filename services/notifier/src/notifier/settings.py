"""Configuration from the environment: prefix NOTIFIER_, plus the shared infrastructure names
(servicekit.settings)."""

from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFIER_")

    port: int = 8084
    group_id: str = "connectflo-notifier"
