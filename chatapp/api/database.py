"""ORM work from the API's async views."""

from functools import wraps

from asgiref.sync import sync_to_async
from django.db import close_old_connections


def in_thread(function):
    """Run ORM work off the event loop, then hand the connection back: a stream may last minutes."""

    @sync_to_async
    @wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            close_old_connections()

    return run
