from celery import shared_task
from celery.signals import worker_shutting_down
from django.conf import settings

from chatapp.chat import actions, lifecycle, naming
from chatapp.chat.relay import relay, running_relay
from chatapp.chat.streaming import stream_reply


@shared_task(acks_late=True, ignore_result=True)
def generate_reply(message_id: int) -> None:
    # This thread waits; the answer streams on the process's shared relay loop.
    answers = relay()
    answers.run(stream_reply(answers, message_id))


@shared_task(ignore_result=True)
def title_conversation(message_id: int) -> None:
    found = naming.model_title(message_id)
    if found is not None:
        actions.retitle_conversation(*found)


@shared_task(ignore_result=True)
def reap_answers() -> None:
    lifecycle.reap()


@worker_shutting_down.connect
def hand_back_answers_at_shutdown(**_kwargs: object) -> None:
    """On SIGTERM: answers get WORKER_SHUTDOWN_GRACE seconds to finish, then are handed back."""
    answers = running_relay()
    if answers is not None:
        answers.hand_back_after(settings.WORKER_SHUTDOWN_GRACE)
