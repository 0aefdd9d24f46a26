"""`python -m notifier`: the notifier: deliveries to people."""

import uvicorn

from notifier.app import create_app
from notifier.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
