"""Background work of the knowledge base: the index's embeddings, in a task rather than in a request or a prompt."""

from celery import Task, shared_task
from django.conf import settings

from chatapp.faq import search
from chatapp.faq.embeddings import EmbeddingsUnavailable


@shared_task(bind=True, max_retries=None, ignore_result=True, name="chatapp.faq.tasks.rebuild_index")
def rebuild_index(self: Task) -> int:
    """Embed the published entries once for every process; an endpoint that fails is tried again later."""
    try:
        return len(search.build_index())
    except EmbeddingsUnavailable as error:
        raise self.retry(exc=error, countdown=settings.FAQ_EMBEDDINGS_RETRY_SECONDS) from error
