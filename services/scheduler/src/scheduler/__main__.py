"""`python -m scheduler`: the scheduler: durable timers."""

from servicekit.serve import serve

from scheduler.app import NAME, create_app
from scheduler.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings, NAME)
