"""Answers from documents: a passage is retrieved next to the curated entries and quoted with its citation."""

import pytest
from django.contrib.auth.models import Group

from chatapp.chat.models import Conversation, Message
from chatapp.chat.prompt import build_request
from chatapp.faq.grounding import NOT_COVERED_TEXT, finalize
from chatapp.faq.index import SourceKind
from chatapp.faq.search import search, visible_entry_ids
from tests.support.documents import ready_document

pytestmark = pytest.mark.usefixtures("sample_faq")


def asking(user, bot, question):
    conversation = Conversation.objects.create(owner=user, bot=bot)
    Message.objects.append(conversation=conversation, role="user", content=question)
    return Message.objects.append(conversation=conversation, role="assistant", status=Message.Status.STREAMING)


@pytest.fixture
def handbook(db):
    return ready_document()


def test_a_question_only_a_document_answers_gets_the_passage_cited_once_as_its_source(alice, team_faq_bot, handbook):
    request = build_request(asking(alice, team_faq_bot, "What is the minimum rest between two normal duties?"))

    passage = handbook.passages.get()
    assert request.canned_answer.startswith("The rest between two duties")
    assert "**Between two normal duties the minimum rest is 11 hours.**" in request.canned_answer
    # The citation is the first source (the Sources block under the answer), not a line of its text.
    assert "Source" not in request.canned_answer and "Driver handbook" not in request.canned_answer
    first = request.sources[0]
    assert (first["number"], first["question"], first["url"], first["cited"]) == (
        1,
        "Driver handbook › Rest periods (p. 12)",
        passage.get_absolute_url(),
        True,
    )
    assert first["kind"] == SourceKind.PASSAGE and first["use"] == "quoted"
    assert (first["title"], first["section"], first["page"]) == ("Driver handbook", "Rest periods", 12)


def test_a_confident_curated_entry_wins_over_a_passage(handbook):
    ready_document(title="IT handbook", heading="VPN", page=3, text="To get VPN access, read the IT handbook.")

    decision = search("How do I get VPN access?")

    assert decision.outcome == "answer"
    assert decision.best.document.kind == SourceKind.ENTRY and decision.best.key == "vpn-access"


def test_a_draft_or_unfinished_document_is_never_cited(alice, team_faq_bot):
    ready_document(published=False)
    ready_document(title="Draft handbook", status="processing")

    decision = search("What is the minimum rest between two normal duties?", k=10)

    assert not any(hit.document.is_passage for hit in decision.hits)


def test_a_document_scoped_to_a_group_is_invisible_outside_it(alice, bob, team_faq_bot):
    drivers = Group.objects.create(name="drivers")
    handbook = ready_document()
    handbook.groups.add(drivers)
    bob.groups.add(drivers)

    for_alice = search("What is the minimum rest between two normal duties?", k=10, visible=visible_entry_ids(alice))
    for_bob = search("What is the minimum rest between two normal duties?", k=10, visible=visible_entry_ids(bob))

    assert not any(hit.document.is_passage for hit in for_alice.hits)
    assert for_bob.best.document.is_passage


def test_a_generated_answer_from_a_withdrawn_passage_is_not_kept(alice, team_faq_bot, handbook, settings):
    settings.FAQ_ANSWER_MODES = {team_faq_bot.model_name: "generate"}
    reply = asking(alice, team_faq_bot, "What is the minimum rest between two normal duties?")
    request = build_request(reply)
    assert request.canned_answer is None and request.sources[0]["kind"] == "passage"
    assert "Driver handbook › Rest periods" in request.messages[0]["content"]
    handbook.published = False
    handbook.save()

    final = finalize(reply, "The minimum rest is 11 hours [1].", request.sources)

    assert final.text == NOT_COVERED_TEXT
