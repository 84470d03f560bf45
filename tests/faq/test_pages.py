import pytest
from django.template import Context, Template
from django.template.loader import render_to_string

from chatapp.chat.models import Conversation, Message
from chatapp.faq.actions import create_draft_entry
from chatapp.faq.models import FAQEntry

pytestmark = pytest.mark.django_db


def retrieved(cited):
    """The sources a VPN question saves: two entries retrieved, the one keyed `cited` cited."""
    entries = [
        ("vpn-access", "How do I get VPN access?", 2.0),
        ("staging-access", "How do I get access to staging?", 1.0),
    ]
    return [
        {
            "number": number,
            "id": number,
            "key": key,
            "question": question,
            "url": f"/faq/{key}/",
            "score": score,
            "cited": key == cited,
        }
        for number, (key, question, score) in enumerate(entries, start=1)
    ]


def test_an_entry_page_shows_the_answer_as_html(alice_client, sample_faq):
    page = alice_client.get("/faq/vpn-access/").content.decode()

    assert "<h1>How do I get VPN access?</h1>" in page
    assert "<strong>IT Help</strong>" in page


def test_entry_pages_need_a_signed_in_user(client, sample_faq):
    response = client.get("/faq/vpn-access/")

    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_drafts_are_hidden_from_users_but_shown_to_reviewers(alice_client, client, admin):
    create_draft_entry("Where can I park?", "In the garage.")
    key = FAQEntry.objects.get().key

    assert alice_client.get(f"/faq/{key}/").status_code == 404
    client.force_login(admin)
    assert "Draft: only reviewers can see this entry." in client.get(f"/faq/{key}/").content.decode()


def test_the_faq_list_searches_published_entries(alice_client, sample_faq):
    page = alice_client.get("/faq/", {"q": "wie beantrage ich urlaub"}).content.decode()

    assert 'href="/faq/time-off-request/"' in page
    assert "No entry answers" in alice_client.get("/faq/", {"q": "capital of Australia"}).content.decode()


def test_a_saved_answer_links_the_entries_it_cited(alice):
    conversation = Conversation.objects.create(owner=alice)
    sources = retrieved(cited="staging-access")
    reply = Message.objects.append(
        conversation=conversation, role="assistant", content="Use the VPN [2].", sources=sources
    )

    html = render_to_string("chat/message.html", {"message": reply})

    assert "Sources" in html
    assert '<a href="/faq/staging-access/">[2] How do I get access to staging?</a>' in html
    assert "/faq/vpn-access/" not in html


def test_promoting_a_reviewed_answer_creates_a_draft_linked_to_it(alice, admin):
    conversation = Conversation.objects.create(owner=alice)
    answer = Message.objects.append(conversation=conversation, role="assistant", content="Ask reception.")

    entry = create_draft_entry(
        "  How do I get   a badge? ", "Ask reception.", conversation=conversation, message=answer, user=admin
    )

    assert entry.status == FAQEntry.Status.DRAFT
    assert entry.question == "How do I get a badge?"
    assert entry.key == "how-do-i-get-a-badge"
    assert (entry.source_conversation, entry.source_message, entry.updated_by) == (conversation, answer, admin)
    assert create_draft_entry("How do I get a badge?", "Again.").key == "how-do-i-get-a-badge-2"


def test_reviewers_see_every_retrieved_entry_and_whether_it_was_cited(alice):
    conversation = Conversation.objects.create(owner=alice)
    sources = retrieved(cited="vpn-access")
    reply = Message.objects.append(
        conversation=conversation, role="assistant", content="Use the VPN [1].", sources=sources
    )

    html = render_to_string("faq/retrieved_sources.html", {"items": reply.sources})
    tag = Template("{% load faq %}{% retrieved_sources message %}").render(Context({"message": reply}))

    assert tag == html
    assert (
        '<td>[1]</td><td><a href="/faq/vpn-access/">How do I get VPN access?</a></td><td>2.0</td><td>yes</td>' in html
    )
    assert (
        '<td>[2]</td><td><a href="/faq/staging-access/">How do I get access to staging?</a></td><td>1.0</td><td>no</td>'
        in html
    )
