import io
import time

import pytest
from django.core.management import call_command

from chatapp.chat.models import Bot, Message
from chatapp.faq.search import current_index


@pytest.fixture
def sample_faq(db):
    """The shipped sample knowledge base, published."""
    call_command("load_sample_faq", stdout=io.StringIO())
    yield
    # Each test starts from its own database: nothing carries over from its index.
    current_index.clear()


@pytest.fixture
def team_faq_bot(db):
    # Transactional tests empty the tables the data migration filled: make sure both bots exist.
    Bot.objects.get_or_create(slug="assistant", defaults={"name": "Assistant", "is_default": True})
    bot, _ = Bot.objects.get_or_create(
        slug="team-faq",
        defaults={"name": "Team FAQ", "uses_knowledge_base": True, "temperature": 0.0, "position": 1},
    )
    return bot


def wait_until_finished(reply, timeout=240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply.refresh_from_db()
        if reply.status not in Message.ACTIVE:
            return reply
        time.sleep(0.2)
    raise AssertionError(f"the answer was still {reply.status} after {timeout} s")
