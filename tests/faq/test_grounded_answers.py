"""The Team FAQ bot end to end: the real worker, the sample knowledge base, the real CPU model
(and, for a capable model's generated answers, the fake engine answering from a script)."""

import pytest

from chatapp.chat.actions import send_message
from chatapp.chat.events import message_payload
from chatapp.chat.models import Message
from chatapp.chat.naming import INSTRUCTIONS
from chatapp.faq.groundedness import check
from chatapp.faq.grounding import NOT_COVERED_TEXT, UNSURE_TEXT
from chatapp.faq.models import FAQEntry, UnansweredQuestion
from tests.support.conversations import wait_until_finished

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("worker", "model_service", "sample_faq", "team_faq_bot"),
]


def ask(user, text, bot_slug="team-faq", conversation_id=None):
    reply = send_message(user, text, conversation_id=conversation_id, bot_slug=bot_slug).reply
    return wait_until_finished(reply)


def test_the_vpn_question_gets_the_entrys_own_answer_and_cites_it(alice):
    reply = ask(alice, "How do I get VPN access?")

    entry = FAQEntry.objects.get(key="vpn-access")
    assert reply.status == Message.Status.DONE
    assert reply.content.startswith(entry.answer.strip())
    assert "Source" not in reply.content  # cited under the answer, once
    assert reply.completion_tokens is None  # quoted, not generated
    first = reply.sources[0]
    assert (first["number"], first["key"], first["cited"], first["use"]) == (1, "vpn-access", True, "quoted")


def test_an_in_between_question_gets_not_sure_with_links_and_is_recorded(alice):
    reply = ask(alice, "Who approves my VPN request and how long does it take?")

    assert reply.content.startswith(UNSURE_TEXT)
    assert "[How do I get VPN access?](/faq/vpn-access/)" in reply.content
    recorded = UnansweredQuestion.objects.get()
    assert recorded.outcome == UnansweredQuestion.Outcome.UNSURE and recorded.message_id == reply.pk


def test_an_uncovered_question_is_declined_without_the_model_and_recorded(alice):
    reply = ask(alice, "Who won the football world cup in 1998?")

    assert reply.status == Message.Status.DONE
    assert reply.content == NOT_COVERED_TEXT
    assert reply.completion_tokens is None  # no generation
    assert reply.sources == []
    recorded = UnansweredQuestion.objects.get()
    assert recorded.question == "Who won the football world cup in 1998?"
    assert recorded.asked_by == alice
    assert recorded.message_id == reply.pk


def test_a_follow_up_in_the_same_conversation_is_answered_with_its_context(alice):
    first = ask(alice, "How do I deploy to production?")
    follow_up = ask(alice, "Can I do that on a Friday?", conversation_id=first.conversation_id)

    assert follow_up.sources[0]["key"] == "deploy-freeze"
    assert follow_up.content.startswith(FAQEntry.objects.get(key="deploy-freeze").answer.strip())


def test_the_general_assistant_does_not_use_the_knowledge_base(alice):
    reply = ask(alice, "Can I bring my dog to the office?", bot_slug="assistant")

    assert reply.status == Message.Status.DONE
    assert reply.content != NOT_COVERED_TEXT
    assert reply.sources == []
    assert not UnansweredQuestion.objects.exists()


def test_the_cpu_model_in_generate_mode_ends_with_a_checked_answer(alice, settings):
    settings.FAQ_ANSWER_MODES = {settings.INFERENCE_MODEL: "generate"}

    reply = ask(alice, "Rollback a bad deploy how?")

    assert reply.status == Message.Status.DONE
    assert reply.completion_tokens  # the model wrote a draft
    entry = FAQEntry.objects.get(key=reply.sources[0]["key"])
    if reply.rejected_draft:
        assert reply.content.startswith(entry.answer.strip())
    else:
        texts = {item["number"]: FAQEntry.objects.get(pk=item["id"]).answer for item in reply.sources}
        assert check(reply.content, texts).grounded


def test_a_streamed_answer_off_the_entries_ends_with_the_quote_and_keeps_the_draft(
    alice, settings, team_faq_bot, scripted_engine
):
    team_faq_bot.model = "capable-model"
    team_faq_bot.save()
    settings.FAQ_ANSWER_MODES = {"capable-model": "generate"}
    draft = 'Install it with `sudo apt-get install ssh-fork -j "https://www.wg0"` [1].'
    engine = scripted_engine(answer=draft)
    reply = ask(alice, "Rollback a bad deploy how?")

    entry = FAQEntry.objects.get(key="rollback")
    assert reply.status == Message.Status.DONE
    assert reply.content.startswith(entry.answer.strip()) and "Source" not in reply.content
    assert reply.rejected_draft == draft
    assert reply.sources[0]["key"] == "rollback" and reply.sources[0]["cited"]
    assert message_payload(reply)["replaced"] is True
    answers_asked = [body for body in engine.requests() if not body["messages"][0]["content"].startswith(INSTRUCTIONS)]
    assert [body["stream"] for body in answers_asked if "stream" in body] == [True]  # it streamed as usual
