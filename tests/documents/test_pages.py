"""The document page opens at the cited passage; nobody sees a document they may not, on any path."""

import pytest
from django.contrib.auth.models import Group

from chatapp.documents.models import Passage
from tests.support.accounts import signed_in
from tests.support.documents import ready_document

pytestmark = pytest.mark.django_db


@pytest.fixture
def drivers(alice):
    group = Group.objects.create(name="Drivers")
    alice.groups.add(group)
    return group


def test_a_citation_names_the_document_section_and_page_and_links_to_the_passage():
    passage = ready_document().passages.get()

    assert passage.citation_label == "Driver handbook › Rest periods (p. 12)"
    assert passage.get_absolute_url().endswith("#rest-periods")
    assert passage.as_source() == {
        "kind": "passage",
        "id": passage.pk,
        "title": "Driver handbook",
        "document": "handbook.pdf",
        "section": "Rest periods",
        "page": 12,
        "url": passage.get_absolute_url(),
    }


def test_the_document_page_highlights_the_cited_passage_and_offers_the_original(alice_client):
    passage = ready_document().passages.get()

    page = alice_client.get(passage.get_absolute_url()).content.decode()

    assert 'id="rest-periods" class="passage passage-cited"' in page
    assert "11 hours" in page
    assert "Original file (handbook.pdf)" in page


def test_the_original_file_is_served_to_whoever_may_see_the_document(alice_client):
    document = ready_document()

    response = alice_client.get(document.get_original_url())

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == b"%PDF-1.4 test"
    assert "sandbox" in response["Content-Security-Policy"]


def test_a_group_scoped_document_is_invisible_outside_the_group_on_every_path(bob, alice, drivers):
    document = ready_document()
    document.groups.add(drivers)
    outsider, member = signed_in(bob), signed_in(alice)

    for path in (document.get_absolute_url(), document.get_original_url(), document.passages.get().get_absolute_url()):
        assert outsider.get(path).status_code == 404
        assert member.get(path).status_code == 200
    assert "Driver handbook" not in outsider.get("/documents/").content.decode()
    assert "Driver handbook" in member.get("/documents/").content.decode()
    assert not Passage.objects.visible_to(bob).exists()
    assert Passage.objects.visible_to(alice).count() == 1


def test_drafts_and_unprocessed_documents_are_not_shown_to_users_nor_cited(alice_client, alice, reviewer):
    draft = ready_document(published=False)
    failed = ready_document(title="Broken", status="failed")

    assert alice_client.get(draft.get_absolute_url()).status_code == 404
    assert alice_client.get(failed.get_absolute_url()).status_code == 404
    assert not Passage.objects.visible_to(alice).exists()
    # Those who may view documents in the admin preview them.
    from django.contrib.auth.models import Permission

    reviewer.user_permissions.add(Permission.objects.get(codename="view_document"))
    assert signed_in(reviewer).get(draft.get_absolute_url()).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client):
    document = ready_document()

    response = client.get(document.get_absolute_url())

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_fingerprint_changes_when_a_documents_groups_change(drivers):
    document = ready_document()
    before = Passage.objects.fingerprint()

    document.groups.add(drivers)

    assert Passage.objects.fingerprint() != before


def test_a_passages_table_is_drawn_as_a_table_on_the_document_page(alice_client):
    table = "| Depot | Open |\n| --- | --- |\n| Northgate | 24 hours |\n| Riverside | 04:30 to 01:30 |"
    passage = ready_document(text=f"Our depots open as follows.\n\n{table}").passages.get()

    page = alice_client.get(passage.get_absolute_url()).content.decode()

    assert passage.blocks() == [
        ("text", "Our depots open as follows."),
        ("table", [["Depot", "Open"], ["Northgate", "24 hours"], ["Riverside", "04:30 to 01:30"]]),
    ]
    assert "<th>Depot</th><th>Open</th>" in page
    assert "<td>Riverside</td><td>04:30 to 01:30</td>" in page
