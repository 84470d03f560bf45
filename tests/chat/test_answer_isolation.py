"""One answer's fault stays in that answer: the worker's other answers go on, exactly.

The answers come from the fake engine (benchmarks/fake_engine.py), whose texts
are known. A chunk that cannot be made is caused with a test double: the
chunk's event fails on one answer's text, as a bug there would; nothing else
in the path is replaced. (A renderer that fails costs a chunk its HTML only:
the text goes on, and the final HTML is made again.)
"""

import pytest

from benchmarks.fake_engine import answer_text, answer_tokens
from chatapp.chat import actions
from chatapp.chat.events import chunk_event
from chatapp.chat.models import Message
from tests.support.conversations import ensure_bots, wait_until_finished

pytestmark = pytest.mark.django_db(transaction=True)

HEALTHY = range(80, 85)
POISONED = 85
# The poisoned answer's opening: no healthy answer starts so.
OPENING = "".join(answer_tokens(POISONED, 3))


def unsendable_chunk(message_id, attempt, seq, delta, html=None, texts={}):  # noqa: B006 (one text per answer)
    """The chunk's event as usual, but a failure once an answer's text shows it is the poisoned one."""
    texts[message_id] = texts.get(message_id, "") + delta
    if texts[message_id].startswith(OPENING):
        raise ValueError("this chunk cannot be made")
    return chunk_event(message_id, attempt, seq, delta, html)


@pytest.fixture
def engine(fake_engine, settings):
    settings.INFERENCE_URL = fake_engine.base_url
    settings.INFERENCE_MODEL = "relay-bench"
    settings.MAX_ACTIVE_ANSWERS_PER_USER = 50
    return fake_engine


def ask(user, text):
    reply = actions.send_message(user, text).reply
    return reply.pk


def test_an_answer_whose_chunk_cannot_be_made_ends_alone_and_five_beside_it_complete(
    worker, engine, alice, monkeypatch
):
    assert not any(answer_text(seed, 120).startswith(OPENING) for seed in HEALTHY)
    monkeypatch.setattr("chatapp.chat.relay.chunk_event", unsendable_chunk)
    ensure_bots()
    healthy = {ask(alice, f"seed={seed} tokens=120 rate=20"): seed for seed in HEALTHY}
    poisoned = ask(alice, f"seed={POISONED} tokens=120 rate=20")

    bad = wait_until_finished(poisoned, timeout=60)
    assert (bad.status, bad.error_code) == (Message.Status.ERROR, Message.ErrorCode.ENGINE_ERROR)
    assert "could not show" in bad.error
    # What was sent before the failure is kept, and nothing beyond it.
    assert answer_text(POISONED, 120).startswith(bad.content)
    for message_id, seed in healthy.items():
        answer = wait_until_finished(message_id, timeout=60)
        assert answer.status == Message.Status.DONE, (answer.error_code, answer.error)
        assert answer.content == answer_text(seed, 120)
