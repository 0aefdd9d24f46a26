"""The executor, assembled from the service kit: its two consumers, its validation and preview
routes."""

from __future__ import annotations

from functools import partial

from servicekit.service import Kit, Service
from starlette.applications import Starlette
from starlette.routing import Route

from executor.adapters.conversations import ConversationRepository
from executor.adapters.intent_engine import RemoteIntentEngine
from executor.adapters.resources import ResourceRepository
from executor.adapters.store import (
    ExecutionRepository,
    WorkflowCatalogue,
    ensure_indexes,
)
from executor.handlers import kafka
from executor.handlers.http import PreviewLimits, preview_workflow, validate_workflow
from executor.runtime.service import ExecutionService
from executor.runtime.step import Limits
from executor.settings import Settings

NAME = "executor"


async def assemble(kit: Kit, settings: Settings) -> None:
    await ensure_indexes(kit.db)
    ferretdb = await kit.mongo.is_ferretdb()
    # a conditional replace on {_id, version} is one command where the storage filters by both
    by_read = ferretdb and not await kit.mongo.pushes_down_fields("executions")
    engine = RemoteIntentEngine(settings.integrations_url, settings.classify_timeout_seconds)
    kit.on_stop(engine.aclose)
    service = ExecutionService(
        WorkflowCatalogue(kit.db),
        ExecutionRepository(
            kit.db,
            check_version_by_read=by_read,
            watch_bucket_seconds=settings.watch_bucket_seconds,
        ),
        ConversationRepository(kit.db, one_by_one=ferretdb),
        kit.publish,
        resources=ResourceRepository(kit.db),
        intent_engine=engine,
        limits=Limits(
            max_steps=settings.max_steps_per_command,
            max_running_seconds=settings.max_running_seconds,
            max_waiting_seconds=settings.max_waiting_seconds,
            max_depth=settings.max_subworkflow_depth,
        ),
    )
    kafka.consume(kit, service)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    limits = PreviewLimits(settings.preview_timeout_seconds, settings.preview_max_node_runs)
    return Service(NAME, settings, partial(assemble, settings=settings)).starlette(
        [
            Route("/v1/workflows/validate", validate_workflow, methods=["POST"]),
            Route(
                "/v1/workflows/preview", partial(preview_workflow, limits=limits), methods=["POST"]
            ),
        ]
    )
