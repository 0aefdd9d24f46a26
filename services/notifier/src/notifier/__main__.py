"""`python -m notifier`: the notifier: deliveries to people."""

from servicekit.serve import serve

from notifier.app import NAME, create_app
from notifier.settings import Settings

if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings, NAME)
