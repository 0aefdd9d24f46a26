"""`python -m integrations`: the integrations service: systems of record."""

import uvicorn

from integrations.app import create_app
from integrations.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
