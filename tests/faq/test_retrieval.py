import pytest

from chatapp.faq.actions import set_status
from chatapp.faq.models import FAQEntry
from chatapp.faq.search import search

pytestmark = pytest.mark.usefixtures("sample_faq")


@pytest.mark.parametrize(
    "question, key",
    [
        ("how do i get vpn acess", "vpn-access"),
        ("Comment poser des congés ?", "time-off-request"),
        ("Wie reiche ich meine Spesen ein?", "expense-report"),
        ("Rollback a bad deploy how?", "rollback"),
    ],
)
def test_typos_other_languages_and_word_order_find_the_entry(question, key):
    result = search(question)

    assert result.covered
    assert result.best.key == key


def test_a_question_off_the_topic_is_not_covered():
    assert not search("What is the capital of Australia?").covered


def test_an_edit_is_searched_at_once_without_a_restart():
    assert not search("Where can I park my bike?").covered
    entry = FAQEntry.objects.get(key="office-badge")
    # The entry is saved as another process would: this process's index is not told.
    entry.phrasings += "\nWhere can I park my bike?"
    entry.answer += "\n\nBikes go in the courtyard rack; your badge opens its gate."
    entry.save()

    result = search("Where can I park my bike?")
    assert result.covered and result.best.key == "office-badge"


def test_withdrawn_deleted_and_draft_entries_are_never_found():
    set_status(FAQEntry.objects.filter(key="vpn-access"), FAQEntry.Status.DRAFT)
    assert "vpn-access" not in search("How do I get VPN access?", k=10).keys

    FAQEntry.objects.get(key="payroll").delete()
    assert "payroll" not in search("When is payday?", k=10).keys

    FAQEntry.objects.create(key="parking", question="Where can I park?", answer="In the garage.")
    assert "parking" not in search("Where can I park?", k=10).keys
    set_status(FAQEntry.objects.filter(key="parking"), FAQEntry.Status.PUBLISHED)
    assert search("Where can I park?").best.key == "parking"


def test_search_stays_lexical_when_the_embeddings_endpoint_is_missing(settings, model_service):
    # The CPU model service has no /v1/embeddings: hybrid ranking must not cost the answer.
    settings.FAQ_EMBEDDINGS_URL = model_service
    settings.FAQ_EMBEDDINGS_MODEL = settings.INFERENCE_MODEL

    result = search("How do I get VPN access?")

    assert result.covered and result.best.key == "vpn-access"
    assert result.best.similarity is None


def facilities_index():
    """A small knowledge base none of whose words the synonym list was written for."""
    from chatapp.faq.index import Document, SearchIndex

    return SearchIndex(
        [
            Document(1, "bike-parking", "Where can I park my bike?", "Bike racks are behind building C."),
            Document(2, "room-booking", "How do I book a meeting room?", "Use the room calendar in the intranet."),
            Document(3, "broken-light", "Who repairs a broken light?", "Open a ticket with facilities."),
        ]
    )


@pytest.mark.parametrize(
    "question, key",
    [
        ("Wo ist der Fahrradparkplatz?", "bike-parking"),
        ("Où garer mon vélo ?", "bike-parking"),
        ("Wie buche ich einen Besprechungsraum?", "room-booking"),
        ("Who handles room bookings?", "room-booking"),
        ("The lights in my office are broken", "broken-light"),
    ],
)
def test_german_compounds_common_french_and_german_words_and_word_forms_find_the_entry(question, key):
    from chatapp.faq.decision import decide

    decision = decide(facilities_index(), question)

    assert decision.covered
    assert decision.keys[0] == key
