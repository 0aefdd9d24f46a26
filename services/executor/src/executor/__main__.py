"""`python -m executor`: the executor's consumers plus its small HTTP surface."""

from servicekit.serve import serve

from executor.app import NAME, create_app
from executor.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings, NAME)
