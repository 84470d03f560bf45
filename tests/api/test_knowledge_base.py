"""The Team FAQ bot through the API: the knowledge base's own answers, honest "not sure" and "not covered"."""

import io

import pytest
from django.core.management import call_command

from chatapp.faq.grounding import NOT_COVERED_TEXT, UNSURE_TEXT
from chatapp.faq.models import FAQEntry, UnansweredQuestion
from chatapp.faq.search import current_index

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sample_faq(bots):
    """The shipped sample knowledge base (the worker, in this process, searches it)."""
    current_index.clear()
    call_command("load_sample_faq", stdout=io.StringIO())
    yield
    current_index.clear()


def ask(api, *messages):
    turns = [
        {"role": "user" if number % 2 == 0 else "assistant", "content": text} for number, text in enumerate(messages)
    ]
    completion = api.chat.completions.create(model="team-faq", messages=turns)
    return completion.choices[0].message.content, completion.model_extra.get("sources", [])


def test_the_faq_bot_answers_with_the_entrys_text_and_cites_it_in_sources(api, sample_faq, live_app):
    text, sources = ask(api, "How do I get VPN access?")

    entry = FAQEntry.objects.get(key="vpn-access")
    assert text.startswith(entry.answer.strip())
    # The citation is in `sources`, not written into the answer a second time.
    assert "Source" not in text
    # The entries behind the citations, as an extra field next to the standard ones.
    assert sources[0] == {
        "number": 1,
        "kind": "entry",
        "key": "vpn-access",
        "question": "How do I get VPN access?",
        "url": f"{live_app}/faq/vpn-access/",
        "cited": True,
    }
    # Related entries are linked in the text with the numbers they have in `sources`, absolute:
    # the client is not on the site.
    assert sources[1:], "another VPN entry matches too"
    for item in sources[1:]:
        assert item["url"].startswith(f"{live_app}/faq/")
        assert f"[{item['number']}] [{item['question']}]({item['url']})" in text


def test_an_off_topic_question_gets_an_honest_not_covered(api, sample_faq):
    text, sources = ask(api, "What is the capital of Australia?")

    assert text == NOT_COVERED_TEXT
    assert sources == []
    assert UnansweredQuestion.objects.get().question == "What is the capital of Australia?"


def test_an_in_between_question_gets_not_sure_with_links_to_the_closest_entries(api, sample_faq, live_app):
    text, sources = ask(api, "Who approves my VPN request and how long does it take?")

    assert text.startswith(UNSURE_TEXT)
    assert "vpn-access" in [item["key"] for item in sources]
    # Absolute: the client is not on the site.
    assert f"[How do I get VPN access?]({live_app}/faq/vpn-access/)" in text
    assert not any(item["cited"] for item in sources)  # nothing asserted


def test_a_follow_up_is_answered_with_the_conversations_context(api, sample_faq):
    text, sources = ask(api, "How do I deploy to production?", "(the earlier answer)", "Can I do that on a Friday?")

    assert sources[0]["key"] == "deploy-freeze"
    assert text.startswith(FAQEntry.objects.get(key="deploy-freeze").answer.strip())


def test_a_streamed_faq_answer_cites_the_entry_in_its_sources_too(api, sample_faq):
    chunks = list(
        api.chat.completions.create(
            model="team-faq", messages=[{"role": "user", "content": "How do I get VPN access?"}], stream=True
        )
    )

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert text.startswith(FAQEntry.objects.get(key="vpn-access").answer.strip())
    assert "Source" not in text
    assert chunks[-1].model_extra["sources"][0]["key"] == "vpn-access"


def test_a_document_answer_carries_its_title_section_page_and_link(api, sample_faq, live_app):
    from tests.support.documents import ready_document

    document = ready_document()
    text, sources = ask(api, "What is the minimum rest between two normal duties?")

    passage = document.passages.get()
    assert "minimum rest is 11 hours" in text
    assert "Source" not in text and "Driver handbook" not in text  # cited once, in `sources`
    assert sources[0] | {"url": ""} == {
        "number": 1,
        "kind": "passage",
        "key": sources[0]["key"],
        "question": "Driver handbook › Rest periods (p. 12)",
        "url": "",
        "cited": True,
        "title": "Driver handbook",
        "document": "handbook.pdf",
        "section": "Rest periods",
        "page": 12,
    }
    assert sources[0]["url"] == f"{live_app}{passage.get_absolute_url()}"
