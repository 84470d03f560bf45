"""Draft entries (promoted from someone's chat) are for reviewers and FAQ editors, not any staff."""

import pytest
from django.contrib.auth.models import Permission

from chatapp.faq.models import FAQEntry
from tests.support.accounts import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft():
    return FAQEntry.objects.create(key="salary-of-bob", question="Bob's salary?", answer="Promoted from a chat.")


def test_staff_without_the_reviewer_permission_gets_404_for_a_draft(client, django_user_model, draft):
    client.force_login(make_user(django_user_model, "support", is_staff=True))
    assert client.get(f"/faq/{draft.key}/").status_code == 404


def test_a_reviewer_previews_a_draft(client, django_user_model, draft):
    reviewer = make_user(django_user_model, "rita", is_staff=True)
    reviewer.user_permissions.add(Permission.objects.get(codename="promote_to_faq"))
    client.force_login(reviewer)
    assert "Promoted from a chat." in client.get(f"/faq/{draft.key}/").content.decode()
