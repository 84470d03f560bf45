"""Knowledge-base entries tagged with groups: nobody else ever receives them, not even among the closest entries."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from chatapp.chat.actions import send_message
from chatapp.chat.models import Message
from chatapp.documents.models import Document
from chatapp.faq.actions import record_unanswered
from chatapp.faq.models import FAQEntry, UnansweredQuestion
from chatapp.faq.search import search, visible_entry_ids
from chatapp.review.roles import reviewer_group
from tests.support.conversations import wait_until_finished
from tests.support.documents import ready_document

pytestmark = pytest.mark.django_db

VPN = "How do I get VPN access?"


@pytest.fixture
def engineering(alice):
    group = Group.objects.create(name="Engineering")
    alice.groups.add(group)
    return group


@pytest.fixture
def vpn_for_engineering(sample_faq, engineering):
    entry = FAQEntry.objects.get(key="vpn-access")
    entry.groups.add(engineering)
    return entry


def faq_editor(django_user_model):
    """A reviewer who also edits the knowledge base, outside the Engineering group."""
    rita = django_user_model.objects.create_user(username="rita", is_staff=True)
    rita.groups.add(reviewer_group())
    codenames = [
        "view_faqentry",
        "change_faqentry",
        "add_faqentry",
        "view_unansweredquestion",
        "change_unansweredquestion",
    ]
    rita.user_permissions.add(*Permission.objects.filter(content_type__app_label="faq", codename__in=codenames))
    return rita


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_an_entry_with_no_group_is_for_everyone(bob, sample_faq):
    assert visible_entry_ids(bob) is None
    assert search(VPN, visible=visible_entry_ids(bob)).best.key == "vpn-access"


def test_retrieval_finds_a_group_entry_only_for_its_members(alice, bob, admin, vpn_for_engineering):
    assert search(VPN, visible=visible_entry_ids(alice)).best.key == "vpn-access"
    assert search(VPN, visible=visible_entry_ids(admin)).best.key == "vpn-access"
    for_bob = search(VPN, k=10, visible=visible_entry_ids(bob))
    assert "vpn-access" not in for_bob.keys


def test_an_entry_and_a_document_limited_to_one_group_open_for_exactly_the_same_people(
    alice, bob, admin, django_user_model, engineering, vpn_for_engineering
):
    document = ready_document()
    document.groups.add(engineering)
    for user, status in ((alice, 200), (bob, 404), (admin, 200)):
        client = signed_in(user)
        assert client.get("/faq/vpn-access/").status_code == status, user
        assert client.get(document.get_absolute_url()).status_code == status, user
    # A member whose account was deactivated keeps neither.
    left = django_user_model.objects.create_user(username="carol", is_active=False)
    left.groups.add(engineering)
    assert not FAQEntry.objects.visible_to(left).exists() and not Document.objects.visible_to(left).exists()


def test_a_non_member_gets_404_on_the_entry_page_even_as_staff(alice, bob, django_user_model, vpn_for_engineering):
    assert signed_in(alice).get("/faq/vpn-access/").status_code == 200
    response = signed_in(bob).get("/faq/vpn-access/")
    assert response.status_code == 404 and b"WireGuard" not in response.content
    staff = django_user_model.objects.create_user(username="rita", is_staff=True)
    assert signed_in(staff).get("/faq/vpn-access/").status_code == 404


def test_the_faq_list_and_its_search_leave_out_a_non_members_entries(alice, bob, vpn_for_engineering):
    bobs = signed_in(bob)
    assert 'href="/faq/vpn-access/"' not in bobs.get("/faq/").content.decode()
    assert 'href="/faq/vpn-access/"' not in bobs.get("/faq/", {"q": "vpn access"}).content.decode()
    alices = signed_in(alice)
    assert 'href="/faq/vpn-access/"' in alices.get("/faq/").content.decode()
    assert 'href="/faq/vpn-access/"' in alices.get("/faq/", {"q": "vpn access"}).content.decode()


def test_reviewers_see_in_the_admin_only_the_entries_they_may_see(django_user_model, vpn_for_engineering):
    rita = faq_editor(django_user_model)
    listing = signed_in(rita).get("/admin/faq/faqentry/", {"q": "VPN"})
    assert listing.status_code == 200 and VPN not in listing.content.decode()
    assert signed_in(rita).get(f"/admin/faq/faqentry/{vpn_for_engineering.pk}/change/").status_code == 302


def test_the_unanswered_list_offers_only_entries_the_reviewer_may_see(
    alice, admin, django_user_model, vpn_for_engineering
):
    candidates = [{"id": vpn_for_engineering.pk, "key": "vpn-access", "question": VPN, "score": 0.5}]
    question = record_unanswered("vpn from my phone?", outcome=UnansweredQuestion.Outcome.UNSURE, candidates=candidates)
    rita = faq_editor(django_user_model)
    for user, shown in [(rita, False), (admin, True)]:
        client = signed_in(user)
        grouped = client.get("/admin/faq/unansweredquestion/").content.decode()
        assert (f"Add as phrasing of “{VPN}”" in grouped) is shown
        detail = client.get(f"/admin/faq/unansweredquestion/{question.pk}/change/").content.decode()
        assert ('href="/faq/vpn-access/"' in detail) is shown


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("worker", "team_faq_bot")
def test_an_answer_cites_a_group_entry_only_to_its_members(alice, bob, vpn_for_engineering):
    alices = send_message(alice, VPN, bot_slug="team-faq").reply
    bobs = send_message(bob, VPN, bot_slug="team-faq").reply
    alices, bobs = wait_until_finished(alices), wait_until_finished(bobs)

    assert alices.status == bobs.status == Message.Status.DONE
    assert "vpn-access" in [source["key"] for source in alices.sources]
    assert "vpn-access" not in [source["key"] for source in bobs.sources]
    assert "/faq/vpn-access/" not in bobs.content and "WireGuard" not in bobs.content
    # Nor among the entries recorded as listed to him.
    for question in UnansweredQuestion.objects.filter(asked_by=bob):
        assert vpn_for_engineering.pk not in [item["id"] for item in question.candidates]
