"""The suite's fixtures come from its plugins: the real services (Redis, the Celery
worker, the models), the actors, and the browser. Everything there is real."""

from pathlib import Path

pytest_plugins = ["tests.plugins.services", "tests.plugins.actors", "tests.plugins.browser"]

FAULTS = Path(__file__).resolve().parent / "faults"


def pytest_ignore_collect(collection_path, config):
    """The fault suite runs on its own (`make faults`): it needs a private PostgreSQL cluster."""
    if collection_path == FAULTS:
        return not any(str(Path(arg).resolve()).startswith(str(FAULTS)) for arg in config.args)
    return None
