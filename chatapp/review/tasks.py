from celery import shared_task
from django.conf import settings

from chatapp.review import actions


@shared_task
def purge_old_conversations() -> int:
    """The periodic retention job; PURGE_CONVERSATIONS_AFTER_DAYS = 0 turns it off."""
    days = settings.PURGE_CONVERSATIONS_AFTER_DAYS
    return actions.purge_conversations(days) if days > 0 else 0
