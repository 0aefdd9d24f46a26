"""`python -m trigger_gateway`: the gateway (the trigger fast lane in front of FastAPI)."""

from servicekit.serve import serve

from trigger_gateway.app import NAME, create_asgi
from trigger_gateway.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(create_asgi(settings), settings, NAME)
