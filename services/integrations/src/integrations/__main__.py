"""`python -m integrations`: the integrations: calls to systems of record."""

from servicekit.serve import serve

from integrations.app import NAME, create_app
from integrations.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings, NAME)
