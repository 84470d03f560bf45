"""Filters for the console log: what an operator needs to read, without noise."""

import logging


class ForbiddenWithoutTraceback(logging.Filter):
    """A refused permission is a normal answer (403 page), not a fault: one line, no traceback.

    Django logs it on `django.request` with the PermissionDenied attached.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
