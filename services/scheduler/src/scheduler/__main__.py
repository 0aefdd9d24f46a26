"""`python -m scheduler`: the scheduler: durable timers."""

import uvicorn

from scheduler.app import create_app
from scheduler.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
