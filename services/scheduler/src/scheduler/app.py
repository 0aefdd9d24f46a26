"""The scheduler, assembled from the service kit: durable timers for waits, retries and
deadlines, workflow schedules, and the SLA keeper."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from functools import partial

from servicekit.service import Kit, Service
from starlette.applications import Starlette

from scheduler.adapters.schedules import ScheduleRepository, ensure_schedule_indexes
from scheduler.adapters.sla import SlaRepository, ensure_sla_indexes
from scheduler.adapters.store import TimerRepository, ensure_indexes
from scheduler.adapters.watchdog import (
    ConsumerGroups,
    WatchdogRepository,
    ensure_watchdog_indexes,
)
from scheduler.handlers import kafka
from scheduler.schedules import ScheduleRunner
from scheduler.service import TimerService
from scheduler.settings import Settings
from scheduler.sla import SlaKeeper
from scheduler.watchdog import Watchdog

NAME = "scheduler"


async def assemble(kit: Kit, settings: Settings) -> None:
    await ensure_indexes(kit.db)
    await ensure_schedule_indexes(kit.db)
    await ensure_sla_indexes(kit.db)
    await ensure_watchdog_indexes(kit.db)
    # a cancel is one conditional update where the storage filters by {_id, status}
    by_read = await kit.mongo.is_ferretdb() and not await kit.mongo.pushes_down_fields("timers")
    timers = TimerRepository(kit.db, cancel_by_read=by_read)
    service = TimerService(
        timers,
        kit.publish,
        owner=f"{socket.gethostname()}:{os.getpid()}",
        page_size=settings.page_size,
        longest_sleep=settings.longest_sleep_seconds,
        retention=timedelta(hours=settings.settled_retention_hours),
    )
    schedules = ScheduleRunner(
        ScheduleRepository(kit.db),
        kit.publish,
        lambda: service.owned_partitions,
        service.turn,
        refresh_seconds=settings.schedule_refresh_seconds,
        page_size=settings.page_size,
    )
    service.on_assigned.append(schedules.wake.set)
    keeper = SlaKeeper(
        SlaRepository(kit.db),
        kit.publish,
        settle_seconds=settings.sla_settle_seconds,
        paused_recheck_seconds=settings.sla_paused_recheck_seconds,
        policies_seconds=settings.sla_policies_seconds,
    )
    groups = [g.strip() for g in settings.watchdog_groups.split(",") if g.strip()]
    consumer_groups = ConsumerGroups(settings.kafka_bootstrap_servers, groups) if groups else None
    if consumer_groups is not None:
        kit.on_stop(consumer_groups.close)
    watchdog = Watchdog(
        WatchdogRepository(kit.db),
        kit.publish,
        lambda: service.owned_partitions,
        lease_seconds=settings.watchdog_lease_seconds,
        interval_seconds=settings.watchdog_interval_seconds,
        bucket_seconds=settings.watch_bucket_seconds,
        groups=consumer_groups,
        group_check_seconds=settings.watchdog_group_check_seconds,
    )
    kafka.consume(kit, service)
    kafka.consume_triggers(kit, keeper)
    kit.background(service.run)  # the firing loop
    kit.background(schedules.run)  # the schedules' loop
    kit.background(keeper.run)  # SLA clocks' crossings
    kit.background(watchdog.run)  # the watchdog's scans (docs/architecture.md)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    return Service(NAME, settings, partial(assemble, settings=settings)).starlette()
