"""Images decoded at once in one process: a few slots, and one user holds one at a time.

Decoding is the costly step of an upload (a second of CPU for a large
picture). Requests beyond the slots wait their turn; a user's second upload
waits for their first, so one person sending many images at once cannot take
every slot from the others.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from chatapp.images.processing import Rejected

# Longer than the slowest accepted image takes; a request waiting longer is told to retry.
WAIT_SECONDS = 60

_condition = threading.Condition()
_busy_users: set = set()


@contextmanager
def slot(user_id: int) -> Iterator[None]:
    def free() -> bool:
        return len(_busy_users) < max(1, settings.IMAGE_PROCESSING_SLOTS) and user_id not in _busy_users

    with _condition:
        if not _condition.wait_for(free, timeout=WAIT_SECONDS):
            raise Rejected("The server is busy with other images: try again in a minute.", status=503)
        _busy_users.add(user_id)
    try:
        yield
    finally:
        with _condition:
            _busy_users.discard(user_id)
            _condition.notify_all()
