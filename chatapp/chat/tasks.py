from asgiref.sync import async_to_sync
from celery import shared_task

from chatapp.chat.streaming import stream_reply


@shared_task(acks_late=True, ignore_result=True)
def generate_reply(message_id):
    # One event loop per task, not per token: see streaming.py.
    async_to_sync(stream_reply)(message_id)
