"""`python -m trigger_gateway`: serve the gateway with uvicorn."""

import uvicorn

from trigger_gateway.app import create_asgi
from trigger_gateway.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    uvicorn.run(create_asgi(settings), host=settings.host, port=settings.port, log_level="warning")
