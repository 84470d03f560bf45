from celery import Task, shared_task

from chatapp.documents import actions


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def process_document(self: Task, document_id: int) -> None:
    if not actions.process_if_free(document_id):
        raise self.retry(countdown=2)
