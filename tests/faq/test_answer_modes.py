"""How knowledge-base answers are written: quoted from the entry, or generated and then checked.

The capable model is the fake engine answering from a script (the `scripted_engine` fixture):
the real CPU model cannot be made to stray from the entries on demand.
"""

import pytest

from chatapp.chat.events import message_payload
from chatapp.chat.models import Conversation, Message
from chatapp.chat.prompt import build_request
from chatapp.faq.analysis import words
from chatapp.faq.grounding import NOT_COVERED_TEXT, UNSURE_TEXT, finalize
from chatapp.faq.models import FAQEntry, UnansweredQuestion

pytestmark = pytest.mark.usefixtures("sample_faq")

MODEL = "capable-model"
STRAYING = 'To get VPN access run `sudo apt-get install ssh-fork -j "https://www.wg0"` and restart [1].'


@pytest.fixture
def faq_bot(team_faq_bot):
    team_faq_bot.model = MODEL
    team_faq_bot.save()
    return team_faq_bot


@pytest.fixture
def capable(settings, faq_bot, scripted_engine):
    """The bot's model is declared capable: it generates the answer from the entries."""
    settings.FAQ_ANSWER_MODES = {MODEL: "generate"}
    return scripted_engine()


def asking(user, bot, *questions):
    """An answer waiting to be written for the last of `questions` (earlier ones answered)."""
    conversation = Conversation.objects.create(owner=user, bot=bot)
    for question in questions[:-1]:
        Message.objects.append(conversation=conversation, role="user", content=question)
        Message.objects.append(conversation=conversation, role="assistant", content="(an earlier answer)")
    Message.objects.append(conversation=conversation, role="user", content=questions[-1])
    return Message.objects.append(conversation=conversation, role="assistant", status=Message.Status.STREAMING)


def knowledge_base_text():
    entries = FAQEntry.objects.published()
    return set(words(" ".join(f"{entry.question} {entry.answer} {entry.key}" for entry in entries)))


# --- quote mode: the default for the CPU model ---------------------------------------------------


def test_a_quote_answer_is_the_entrys_own_text_cited_once_as_its_first_source(alice, faq_bot):
    request = build_request(asking(alice, faq_bot, "How do I get VPN access?"))

    entry = FAQEntry.objects.get(key="vpn-access")
    assert request.canned_answer.startswith(entry.answer.strip())
    # Cited under the answer (the Sources block), not a second time in its text.
    assert "Source" not in request.canned_answer and "[1]" not in request.canned_answer
    assert request.sources[0]["key"] == "vpn-access" and request.sources[0]["cited"]


@pytest.mark.parametrize(
    "question",
    [
        "How do I get VPN access?",
        "how do i get vpn acess",
        "Comment poser des congés ?",
        "Rollback a bad deploy how?",
        "my laptop is broken what do i do",
        "Who approves my VPN request and how long does it take?",
        "What is the capital of Australia?",
    ],
)
def test_quote_mode_answers_contain_nothing_but_knowledge_base_text(alice, faq_bot, question):
    request = build_request(asking(alice, faq_bot, question))

    # Every word is the knowledge base's, or one of the fixed phrases around it.
    fixed = set(words(f"Related faq {UNSURE_TEXT} {NOT_COVERED_TEXT}"))
    assert request.canned_answer is not None
    assert set(words(request.canned_answer)) <= knowledge_base_text() | fixed


def test_a_quote_answer_links_the_related_entries_with_stable_numbers(alice, faq_bot):
    request = build_request(asking(alice, faq_bot, "How do I get VPN access?"))

    related = [item for item in request.sources if item["use"] == "related"]
    assert related, "another VPN entry matches too"
    for item in related:
        assert f"[{item['number']}] [{item['question']}]({item['url']})" in request.canned_answer
    assert [item["number"] for item in request.sources] == list(range(1, len(request.sources) + 1))


def test_an_unsure_answer_asserts_nothing_and_lists_the_closest_entries_for_reviewers(alice, faq_bot):
    reply = asking(alice, faq_bot, "Who approves my VPN request and how long does it take?")

    request = build_request(reply)

    assert request.canned_answer.startswith(UNSURE_TEXT)
    assert "[1] [How do I get VPN access?](/faq/vpn-access/)" in request.canned_answer
    recorded = UnansweredQuestion.objects.get()
    assert recorded.outcome == UnansweredQuestion.Outcome.UNSURE
    assert recorded.message == reply and recorded.asked_by == alice
    assert "vpn-access" in [item["key"] for item in recorded.candidates]


def test_a_question_not_covered_is_recorded_once_even_when_retried(alice, faq_bot):
    reply = asking(alice, faq_bot, "Who won the football world cup in 1998?")

    assert build_request(reply).canned_answer == NOT_COVERED_TEXT
    build_request(reply)

    recorded = UnansweredQuestion.objects.get()
    assert recorded.outcome == UnansweredQuestion.Outcome.NOT_COVERED
    assert recorded.candidates == []


def test_a_follow_up_is_answered_from_the_conversations_context(alice, faq_bot):
    request = build_request(asking(alice, faq_bot, "How do I deploy to production?", "Can I do that on a Friday?"))

    assert request.sources[0]["key"] == "deploy-freeze"
    assert request.canned_answer.startswith(FAQEntry.objects.get(key="deploy-freeze").answer.strip())


def test_the_default_mode_follows_the_model(settings, alice, faq_bot):
    settings.FAQ_ANSWER_MODES = {"some-other-model": "generate"}

    request = build_request(asking(alice, faq_bot, "Rollback a bad deploy how?"))

    assert request.canned_answer is not None  # quoted: this bot's model is not declared capable


# --- generate mode: a capable model ------------------------------------------------------------


def test_a_capable_model_writes_from_the_numbered_entries(alice, faq_bot, capable):
    request = build_request(asking(alice, faq_bot, "Rollback a bad deploy how?"))

    assert request.canned_answer is None
    assert "cite the source it comes from by its number in brackets" in request.messages[0]["content"]
    assert "[1] How do I roll back a bad deploy?" in request.messages[0]["content"]
    assert [item["use"] for item in request.sources] == ["answer"] * len(request.sources)


def test_whether_to_answer_is_decided_without_asking_the_model(alice, faq_bot, capable):
    request = build_request(asking(alice, faq_bot, "Who approves my VPN request and how long does it take?"))

    assert not capable.requests()
    assert request.canned_answer is None or request.canned_answer.startswith(UNSURE_TEXT)


def generated(alice, faq_bot, text, question="Rollback a bad deploy how?"):
    reply = asking(alice, faq_bot, question)
    request = build_request(reply)
    assert request.canned_answer is None
    return reply, request, finalize(reply, text, request.sources)


def test_an_answer_stating_what_the_entries_do_not_say_is_replaced_by_the_quote(alice, faq_bot, capable):
    _reply, request, final = generated(alice, faq_bot, STRAYING)

    assert final.rejected_draft == STRAYING
    entry = FAQEntry.objects.get(key=request.sources[0]["key"])
    assert final.text.startswith(entry.answer.strip()) and "Source" not in final.text
    assert final.sources[0]["cited"] and final.sources[0]["use"] == "quoted"


def test_a_supported_answer_is_kept_with_its_citations(alice, faq_bot, capable):
    text = "Run `/deploy rollback production` in #deploys: it redeploys the previous release [1]."
    _reply, _request, final = generated(alice, faq_bot, text)

    assert final.text == text and final.rejected_draft == ""
    assert final.sources[0]["cited"]
    assert not capable.requests(), "the lexical check needs no model"


@pytest.mark.parametrize(
    "draft",
    [
        "You can roll back by asking in the channel.",  # cites nothing
        "Roll back with `/deploy rollback production` [7].",  # cites an entry it was not given
    ],
)
def test_answers_with_missing_or_unknown_citations_are_replaced_without_asking_the_model(
    alice, faq_bot, capable, draft
):
    _reply, _request, final = generated(alice, faq_bot, draft)

    assert final.rejected_draft == draft
    assert not capable.requests()


def test_a_replaced_answer_is_marked_for_the_browser_and_the_api(alice, faq_bot, capable):
    reply, _request, final = generated(alice, faq_bot, STRAYING)
    reply.finish(Message.Status.DONE, content=final.text, sources=final.sources, rejected_draft=final.rejected_draft)

    payload = message_payload(Message.objects.get(pk=reply.pk))
    assert payload["replaced"] is True
    assert "ssh-fork" not in payload["content"]


@pytest.mark.django_db(transaction=True)
def test_a_quoted_answer_shows_no_model_name_or_duration(alice, faq_bot, worker, client):
    from chatapp.chat import actions
    from tests.support.conversations import wait_until_finished

    sent = actions.send_message(alice, "How do I get VPN access?", bot_slug=faq_bot.slug)
    conversation, reply = sent.conversation, sent.reply
    reply = wait_until_finished(reply, timeout=60)
    assert reply.status == Message.Status.DONE and reply.content.startswith("Source") is False
    assert (reply.model, reply.duration, reply.time_to_first_token) == ("", None, None)
    client.force_login(alice)
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert MODEL not in page and " s</span>" not in page
