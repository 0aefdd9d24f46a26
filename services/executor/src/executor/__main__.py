"""`python -m executor`: the executor's consumers plus its small HTTP surface."""

import uvicorn

from executor.app import create_app
from executor.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
