from celery import shared_task

from chatapp.documents import actions


@shared_task(acks_late=True, ignore_result=True)
def process_document(document_id: int) -> None:
    actions.process(document_id)
