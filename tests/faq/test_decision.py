"""Answer, not sure, or not covered: one decision from a few figures of the search."""

import pytest

from chatapp.faq.decision import ANSWER, LEXICAL_FEATURES, NOT_COVERED, UNSURE, Outcome, calibrate
from chatapp.faq.index import Document, SearchIndex
from chatapp.faq.models import FAQEntry
from chatapp.faq.search import current_index, search

pytestmark = pytest.mark.usefixtures("sample_faq")


def test_an_entrys_own_question_is_answered_by_that_entry():
    decision = search("How do I get VPN access?")

    assert decision.outcome == ANSWER
    assert decision.best.key == "vpn-access"


def test_a_question_the_entries_only_partly_match_is_unsure_and_lists_the_closest():
    decision = search("Who approves my VPN request and how long does it take?")

    assert decision.outcome == UNSURE
    assert "vpn-access" in decision.keys
    assert len(decision.keys) == 3


def test_an_off_topic_question_is_not_covered():
    assert search("What is the capital of Australia?").outcome == NOT_COVERED
    assert search("Who won the football world cup in 1998?").outcome == NOT_COVERED


def test_a_question_sharing_only_a_common_word_with_the_entries_is_never_answered():
    decision = search("Can I bring my dog to the office?")

    assert decision.outcome != ANSWER


def test_a_question_an_entry_answers_in_other_words_is_listed_rather_than_declined():
    # Few of its words are the entry's, but those it shares are specific to it.
    decision = search("My pager keeps buzzing at night, who pays for that?")

    assert decision.outcome != NOT_COVERED
    assert "on-call-compensation" in decision.keys


def test_an_index_without_embeddings_is_decided_by_the_lexical_models():
    calibration = current_index.get().calibration

    assert calibration.names == LEXICAL_FEATURES
    assert 0.3 <= calibration.answer_threshold <= 0.99
    assert calibration.list_threshold < calibration.answer_threshold


def test_outcomes_are_an_enum():
    decision = search("How do I get VPN access?")

    assert isinstance(decision.outcome, Outcome)
    assert decision.outcome is Outcome.ANSWER


def test_a_new_phrasing_of_an_entry_is_answered_once_saved():
    entry = FAQEntry.objects.get(key="office-badge")
    entry.phrasings += "\nWhere can I park my bike?"
    entry.save()

    decision = search("Where can I park my bike?")

    assert decision.outcome == ANSWER and decision.best.key == "office-badge"


def test_a_knowledge_base_of_one_entry_answers_its_question_and_declines_others():
    index = SearchIndex([Document(1, "parking", "Where can I park?", "In the garage behind the office.")])
    index.calibration = calibrate(index)
    from chatapp.faq.decision import decide

    assert decide(index, "Where can I park?").outcome == ANSWER
    assert decide(index, "What is the capital of Australia?").outcome == NOT_COVERED


def test_a_follow_up_keeps_the_entry_its_own_words_name():
    followed = search("And for staging?", context=["How do I get VPN access?"])

    assert followed.keys[0] == "staging-access"


def test_a_follow_up_that_needs_its_context_is_answered_with_it():
    followed = search("Can I do that on a Friday?", context=["How do I deploy to production?"])

    assert followed.outcome == ANSWER and followed.best.key == "deploy-freeze"


def test_a_new_question_after_a_covered_one_is_not_pulled_toward_it():
    decision = search("Can I bring my dog to the office?", context=["How do I get VPN access?"])

    assert decision.outcome != ANSWER
    assert "vpn-access" not in decision.keys


def test_entries_hidden_from_the_asker_are_neither_found_nor_decide_coverage():
    vpn = FAQEntry.objects.get(key="vpn-access")
    visible = set(FAQEntry.objects.published().exclude(pk=vpn.pk).values_list("pk", flat=True))

    decision = search("How do I get VPN access?", visible=visible, k=10)

    assert "vpn-access" not in decision.keys
    assert not (decision.outcome == ANSWER and decision.best.key == "vpn-access")
