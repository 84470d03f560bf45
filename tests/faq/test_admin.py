import pytest
from django.urls import reverse

from chatapp.faq.models import FAQEntry, UnansweredQuestion

pytestmark = pytest.mark.django_db

GROUPED = "/admin/faq/unansweredquestion/"


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


def ask(user, *questions):
    for question in questions:
        UnansweredQuestion.objects.create(question=question, asked_by=user)


def test_unanswered_questions_are_grouped_by_topic_with_counts(admin_client, alice, bob, admin):
    ask(alice, "How do I submit an expense report for a taxi?", "Is there a parking space for my car?")
    ask(bob, "Where do I send my expense report?", "Can I bring my dog to work?")
    ask(admin, "expense reports deadline?")

    page = admin_client.get(GROUPED).content.decode()

    assert "3 people asked about expense report" in page
    assert "1 person asked about" in page
    assert page.index("3 people asked") < page.index("1 person asked")
    assert page.count("Create FAQ entry") == 3


def test_create_faq_entry_prefills_a_draft_from_the_group(admin_client, alice, bob):
    ask(alice, "How do I submit an expense report for a taxi?")
    ask(bob, "Where do I send my expense report?")
    ids = list(UnansweredQuestion.objects.order_by("created_at", "id").values_list("id", flat=True))

    response = admin_client.post(reverse("admin:faq_unansweredquestion_act"), {"ids": ids, "action": "create"})

    entry = FAQEntry.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:faq_faqentry_change", args=[entry.pk])
    assert entry.status == FAQEntry.Status.DRAFT
    assert entry.question == "How do I submit an expense report for a taxi?"
    assert entry.phrasing_list == ["Where do I send my expense report?"]
    assert not UnansweredQuestion.objects.open().exists()
    assert "No open unanswered questions." in admin_client.get(GROUPED).content.decode()


def test_a_dismissed_group_leaves_the_list(admin_client, alice):
    ask(alice, "Who won the hackathon?")

    admin_client.post(
        reverse("admin:faq_unansweredquestion_act"), {"ids": [UnansweredQuestion.objects.get().pk], "action": "dismiss"}
    )

    assert UnansweredQuestion.objects.get().dismissed
    assert not FAQEntry.objects.exists()


def test_the_plain_list_of_questions_is_one_click_away(admin_client, alice):
    ask(alice, "Who won the hackathon?")

    response = admin_client.get(GROUPED + "?list&q=hackathon")

    assert response.status_code == 200
    assert "Who won the hackathon?" in response.content.decode()


def test_people_who_are_not_staff_cannot_see_the_questions(client, alice):
    ask(alice, "Who won the hackathon?")
    client.force_login(alice)

    response = client.get(GROUPED)

    assert response.status_code == 302 and "/admin/login/" in response.url


def test_entries_can_be_searched_filtered_by_tag_and_published(admin_client, sample_faq):
    listing = admin_client.get("/admin/faq/faqentry/?q=wireguard").content.decode()
    assert "How do I get VPN access?" in listing and "When is payday?" not in listing

    listing = admin_client.get("/admin/faq/faqentry/?tag=expenses").content.decode()
    assert "How do I submit an expense report?" in listing and "How do I get VPN access?" not in listing

    draft = FAQEntry.objects.create(question="Where can I park?", answer="In the garage.")
    admin_client.post("/admin/faq/faqentry/", {"action": "publish", "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert draft.status == FAQEntry.Status.PUBLISHED


def test_an_entry_added_in_the_admin_gets_a_key_and_who_wrote_it(admin_client, admin):
    admin_client.post(
        "/admin/faq/faqentry/add/",
        {
            "question": "Where can I park?",
            "key": "",
            "status": "draft",
            "answer": "In the garage.",
            "phrasings": "",
            "tags": "",
        },
    )

    entry = FAQEntry.objects.get()
    assert entry.key == "where-can-i-park"
    assert entry.updated_by == admin


def test_the_admin_exports_selected_entries_as_markdown(admin_client, sample_faq):
    selected = FAQEntry.objects.filter(key__in=["vpn-access", "payroll"]).values_list("pk", flat=True)

    response = admin_client.post("/admin/faq/faqentry/", {"action": "export_md", "_selected_action": list(selected)})

    assert response["Content-Disposition"] == 'attachment; filename="faq.md"'
    text = response.content.decode()
    assert "## How do I get VPN access?\nKey: vpn-access" in text
    assert "## When is payday?" in text and "## How do I roll back" not in text


def test_the_admin_imports_a_file_and_lists_bad_rows(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("faq.csv", b"question,answer\nWhere can I park?,In the garage.\n,No question.\n")

    response = admin_client.post(reverse("admin:faq_faqentry_import"), {"file": upload})

    page = response.content.decode()
    assert "1 created, 0 updated, 0 unchanged, 1 row(s) with errors" in page
    assert "line 3: the question is empty" in page
    assert FAQEntry.objects.get().question == "Where can I park?"


def test_a_not_sure_question_becomes_a_phrasing_of_a_listed_entry_in_one_click(admin_client, alice, sample_faq):
    from chatapp.faq.search import search

    question = "Who approves my VPN request and how long does it take?"
    decision = search(question)
    assert decision.outcome == "unsure"
    vpn = FAQEntry.objects.get(key="vpn-access")
    UnansweredQuestion.objects.create(
        question=question,
        asked_by=alice,
        outcome=UnansweredQuestion.Outcome.UNSURE,
        candidates=[
            {"id": hit.document.id, "key": hit.key, "question": hit.document.question} for hit in decision.hits
        ],
    )

    page = admin_client.get(GROUPED).content.decode()
    assert "Add as phrasing of “How do I get VPN access?”" in page

    ids = list(UnansweredQuestion.objects.values_list("id", flat=True))
    admin_client.post(reverse("admin:faq_unansweredquestion_act"), {"ids": ids, "entry": vpn.pk})

    vpn.refresh_from_db()
    assert question in vpn.phrasing_list
    assert UnansweredQuestion.objects.get().entry == vpn
    assert "No open unanswered questions." in admin_client.get(GROUPED).content.decode()
    answered = search(question)
    assert answered.outcome == "answer" and answered.best.key == "vpn-access"


def test_reviewers_see_a_refused_draft_in_the_transcript_marked_as_such(admin_client, alice):
    from chatapp.chat.models import Conversation, Message

    conversation = Conversation.objects.create(owner=alice)
    Message.objects.append(conversation=conversation, role="user", content="Rollback a bad deploy how?")
    Message.objects.append(
        conversation=conversation,
        role="assistant",
        content="Run `/deploy rollback production` in **#deploys**.",
        rejected_draft="Just run `sudo rollback --force` [1].",
    )

    page = admin_client.get(reverse("admin:chat_conversation_change", args=[conversation.pk])).content.decode()

    assert "Rejected draft" in page
    assert "Just run `sudo rollback --force` [1]." in page


def test_questions_in_other_languages_or_sharing_one_everyday_word_are_not_grouped(admin_client, alice):
    ask(
        alice,
        "Will the company pay for my ticket to KubeCon?",
        "Les jours fériés sont-ils payés ?",
        "Do we pay interns?",
        "Where do I send my expense report?",
        "How do I submit an expense report for a taxi?",
    )
    groups = admin_client.get(GROUPED).context["groups"]
    together = {frozenset(q.question for q in group.questions) for group in groups}
    assert together == {
        frozenset({"Where do I send my expense report?", "How do I submit an expense report for a taxi?"}),
        frozenset({"Will the company pay for my ticket to KubeCon?"}),
        frozenset({"Les jours fériés sont-ils payés ?"}),
        frozenset({"Do we pay interns?"}),
    }
