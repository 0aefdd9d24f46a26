"""``serve()``: what every ``python -m <service>`` runs."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from servicekit.logs import configure_logging
from servicekit.service import HttpMetrics
from servicekit.settings import ServiceSettings


def serve(app: ASGIApp, settings: ServiceSettings, service: str) -> None:
    """Logs as JSON lines on stderr, HTTP metrics around the app, uvicorn on uvloop and
    httptools, the lifespan run (start-up and shutdown order: servicekit.service)."""
    configure_logging(service, settings.log_level)
    uvicorn.run(
        HttpMetrics(app),
        host=settings.host,
        port=settings.port,
        log_config=None,  # configure_logging's handlers, not uvicorn's
        access_log=False,
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )
