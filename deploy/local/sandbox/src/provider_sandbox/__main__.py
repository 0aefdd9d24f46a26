"""`python -m provider_sandbox`: the sandbox on 127.0.0.1:$SANDBOX_PORT (default 8090)."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .settings import SandboxSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = SandboxSettings.from_env()
    uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
