"""The Team FAQ bot through the API: grounded answers that cite the knowledge base."""

import io

import pytest
from django.core.management import call_command

from chatapp.faq.models import FAQEntry
from chatapp.faq.search import current_index

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sample_faq(bots):
    """The shipped sample knowledge base (the worker, in this process, searches it)."""
    current_index.clear()
    call_command("load_sample_faq", stdout=io.StringIO())
    yield
    current_index.clear()


def test_the_faq_bot_answers_from_the_entry_and_cites_it(api, sample_faq, live_app):
    completion = api.chat.completions.create(
        model="team-faq", messages=[{"role": "user", "content": "How do I get VPN access?"}]
    )

    entry = FAQEntry.objects.get(key="vpn-access")
    text = completion.choices[0].message.content
    assert entry.answer.strip() in text
    assert "[1]" in text
    # The entries behind the citations, as an extra field next to the standard ones.
    assert completion.model_extra["sources"] == [
        {
            "number": 1,
            "key": "vpn-access",
            "question": "How do I get VPN access?",
            "url": f"{live_app}/faq/vpn-access/",
            "cited": True,
        }
    ]


def test_a_streamed_faq_answer_cites_the_entry_too(api, sample_faq):
    chunks = list(
        api.chat.completions.create(
            model="team-faq", messages=[{"role": "user", "content": "How do I get VPN access?"}], stream=True
        )
    )

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "[1]" in text
    assert chunks[-1].model_extra["sources"][0]["key"] == "vpn-access"
