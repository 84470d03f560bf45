"""How the API follows an answer: catching up after subscribing, filling gaps, trusting the database.

The worker is played here by sending what it sends (Redis log entries and
group events) by hand: a group message that never arrives cannot be caused
with the real worker on demand.
"""

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chatapp.api.answers import AnswerFeed
from chatapp.chat import live
from chatapp.chat.events import chunk_event, conversation_group, message_event
from chatapp.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def answer_being_written(user):
    conversation = Conversation.objects.create(owner=user, source=Conversation.Source.API)
    Message.objects.append(conversation=conversation, role="user", content="Greet the world.")
    reply = Message.objects.append(conversation=conversation, role="assistant", status="queued")
    reply.claim()
    return reply


class Worker:
    def __init__(self, reply):
        self.reply = reply
        self.layer = get_channel_layer()
        self.seq = 0
        self.text = ""

    async def write(self, delta, delivered=True):
        self.seq += 1
        self.text += delta
        pipe = live.async_redis().pipeline(transaction=False)
        live.append_chunk(pipe, self.reply.pk, self.reply.attempt, self.seq, delta, first=self.seq == 1)
        await pipe.execute()
        if delivered:
            await self.layer.group_send(
                conversation_group(self.reply.conversation_id),
                chunk_event(self.reply.pk, self.reply.attempt, self.seq, delta),
            )

    async def finish(self, delivered=True):
        await sync_to_async(self.reply.finish)(Message.Status.DONE, content=self.text, seq=self.seq)
        if delivered:
            event = await sync_to_async(message_event)(self.reply)
            await self.layer.group_send(conversation_group(self.reply.conversation_id), event)


async def test_text_written_before_subscribing_comes_first_and_a_dropped_chunk_is_filled_from_the_log(alice):
    reply = await answer_being_written(alice)
    worker = Worker(reply)
    feed = AnswerFeed(alice, reply)
    await feed.open()
    try:
        await worker.write("Hello")
        deltas = feed.deltas()
        assert await anext(deltas) == "Hello"  # from the log: its group event is skipped as a repeat
        await worker.write(" brave", delivered=False)
        await worker.write(" world")
        assert await anext(deltas) == " brave world"
        await worker.finish()
        assert [delta async for delta in deltas] == []
    finally:
        await feed.close()
    assert feed.finished.status == Message.Status.DONE
    assert feed.text == "Hello brave world"


async def test_an_answer_finished_before_subscribing_is_read_from_the_database(alice):
    reply = await answer_being_written(alice)
    worker = Worker(reply)
    await worker.write("All done.")
    await worker.finish()

    feed = AnswerFeed(alice, reply)
    await feed.open()
    try:
        assert [delta async for delta in feed.deltas()] == ["All done."]
    finally:
        await feed.close()
    assert feed.finished.content == "All done."


async def test_a_lost_final_event_is_noticed_in_the_database(alice):
    reply = await answer_being_written(alice)
    worker = Worker(reply)
    feed = AnswerFeed(alice, reply)
    await feed.open()
    try:
        deltas = feed.deltas()
        await worker.write("Almost")
        assert await anext(deltas) == "Almost"
        await worker.write(" there.")
        await worker.finish(delivered=False)
        assert [delta async for delta in deltas] == [" there."]
    finally:
        await feed.close()
    assert feed.finished.status == Message.Status.DONE
