import io

import pytest
from django.core.management import call_command

from chatapp.faq.search import current_index
from tests.support.conversations import ensure_bots


@pytest.fixture
def sample_faq(db):
    """The shipped sample knowledge base, published."""
    call_command("load_sample_faq", stdout=io.StringIO())
    yield
    # Each test starts from its own database: nothing carries over from its index.
    current_index.clear()


@pytest.fixture
def team_faq_bot(db):
    return ensure_bots()["team-faq"]
