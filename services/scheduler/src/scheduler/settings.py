"""Configuration from the environment: prefix SCHEDULER_, plus the shared infrastructure names
(servicekit.settings)."""

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict
from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_")

    port: int = 8082
    group_id: str = "connectflo-scheduler"
    page_size: int = Field(
        200, description="Due timers fired per page: published together, marked fired in one write."
    )
    longest_sleep_seconds: float = Field(
        30,
        description="The firing loop sleeps until the next timer is due, or a new request or "
        "assignment wakes it, but never longer than this.",
    )
    settled_retention_hours: float = Field(
        168, description="Fired and cancelled timers (and tombstones) are kept this long."
    )
    schedule_refresh_seconds: float = Field(
        5,
        gt=0,
        description="The owned partitions' schedules are read again this often: a new or "
        "changed schedule is seen within it.",
    )
    sla_settle_seconds: float = Field(
        2.0,
        ge=0,
        description="The SLA keeper looks at a conversation this long after a customer's "
        "message (the executor logs it meanwhile).",
    )
    sla_paused_recheck_seconds: float = Field(
        30.0,
        gt=0,
        description="While a clock waits on the customer, its conversation is looked at again "
        "this often (a status set through the API is seen within it).",
    )
    sla_policies_seconds: float = Field(
        5.0, gt=0, description="Tenants' SLA policies are read again after this long."
    )
    watchdog_lease_seconds: float = Field(
        300,
        gt=0,
        description="The watchdog finds a created or running execution stuck when nothing was "
        "applied to it for this long, a waiting one when this long past its waiting time limit.",
    )
    watchdog_interval_seconds: float = Field(
        60, gt=0, description="The watchdog scans this often (the owner of timers partition 0)."
    )
    watchdog_groups: str = Field(
        "connectflo-executor,connectflo-notifier,connectflo-integrations,connectflo-scheduler",
        description="Consumer groups the watchdog checks for lag with no members (comma "
        "separated; empty: none).",
    )
    watchdog_group_check_seconds: float = Field(
        60, gt=0, description="How often the watchdog checks the consumer groups."
    )
    watch_bucket_seconds: int = Field(
        60,
        gt=0,
        validation_alias=AliasChoices("CONNECTFLO_WATCH_BUCKET_SECONDS"),
        description="The slot of an execution's last write the watchdog reads it by "
        "(contracts.watchdog); the same value for the executor and the scheduler.",
    )
