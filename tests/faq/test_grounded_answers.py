"""The Team FAQ bot end to end: the real worker, the real CPU model, the sample knowledge base."""

import httpx
import pytest

from chatapp.chat.actions import send_message
from chatapp.chat.models import Message
from chatapp.faq.grounding import NOT_COVERED, cited_numbers
from chatapp.faq.models import FAQEntry, UnansweredQuestion
from tests.faq.conftest import wait_until_finished

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("worker", "model_service", "sample_faq", "team_faq_bot"),
]


def ask(user, text, bot_slug="team-faq"):
    _, _, _, reply = send_message(user, text, bot_slug=bot_slug)
    return wait_until_finished(reply)


def test_the_vpn_question_is_answered_with_the_entry_and_cites_it(alice):
    reply = ask(alice, "How do I get VPN access?")

    entry = FAQEntry.objects.get(key="vpn-access")
    assert reply.status == Message.Status.DONE
    # Word for word an entry's question: its own text answers, with the citation.
    assert entry.answer.strip() in reply.content
    assert "[1]" in reply.content
    assert reply.sources == [
        {
            "number": 1,
            "id": entry.pk,
            "key": "vpn-access",
            "question": "How do I get VPN access?",
            "url": "/faq/vpn-access/",
            "score": reply.sources[0]["score"],
            "cited": True,
        }
    ]


def test_a_paraphrase_is_answered_by_the_model_from_the_numbered_entries(alice, model_service):
    reply = ask(alice, "I'm working from home and need to reach the internal systems through the VPN. How do I set that up?")

    assert reply.status == Message.Status.DONE
    assert reply.content.strip()
    assert reply.completion_tokens  # the model wrote it
    keys = [source["key"] for source in reply.sources]
    assert "vpn-access" in keys
    assert [source["number"] for source in reply.sources] == list(range(1, len(keys) + 1))
    # What the model was given: the instructions and the entries, numbered.
    prompt = httpx.get(model_service.removesuffix("/v1") + "/debug/last-prompt").text
    assert "cite the entry it comes from by its number in brackets, like [1]" in prompt
    number = keys.index("vpn-access") + 1
    assert f"[{number}] How do I get VPN access?" in prompt
    # Saved citations are exactly the numbers the answer refers to.
    cited = cited_numbers(reply.content)
    assert [source["cited"] for source in reply.sources] == [source["number"] in cited for source in reply.sources]


def test_an_uncovered_question_is_declined_without_the_model_and_recorded(alice):
    reply = ask(alice, "Can I bring my dog to the office?")

    assert reply.status == Message.Status.DONE
    assert reply.content == NOT_COVERED
    assert reply.completion_tokens is None  # no generation
    assert reply.sources == []
    recorded = UnansweredQuestion.objects.get()
    assert recorded.question == "Can I bring my dog to the office?"
    assert recorded.asked_by == alice
    assert recorded.message_id == reply.pk


def test_the_general_assistant_does_not_use_the_knowledge_base(alice):
    reply = ask(alice, "Can I bring my dog to the office?", bot_slug="assistant")

    assert reply.status == Message.Status.DONE
    assert reply.content != NOT_COVERED
    assert reply.sources == []
    assert not UnansweredQuestion.objects.exists()
