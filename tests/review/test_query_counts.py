"""The review pages run the same few queries however many conversations there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chatapp.chat.models import Conversation, Message
from chatapp.review import actions
from tests.review.seeding import seed_conversations
from tests.support.conversations import converse, question_of
from tests.support.pictures import attach_image

pytestmark = pytest.mark.django_db

LIST = "/admin/chat/conversation/"
PAGES = [
    {},
    {"p": "3"},
    {"thumbs_down": "yes"},
    {"error": "yes", "source": "api"},
    {"review": "unreviewed", "model": "smollm2-135m"},
    {"q": "restarting"},
    {"o": "-5"},
]


def queries_for(client, path, params=None):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params or {})
    assert response.status_code == 200
    return len(captured), response


def test_list_and_conversation_pages_keep_a_constant_number_of_queries(reviewer_client, reviewer, alice):
    def measure():
        counts = {}
        for params in PAGES:
            counts[str(params)], response = queries_for(reviewer_client, LIST, params)
        return counts, response

    small = converse(alice, [("Hi", "Hello")])
    small_counts, _ = measure()
    queries_for(reviewer_client, f"{LIST}{small.pk}/change/")  # fills the content type cache once
    small_page, _ = queries_for(reviewer_client, f"{LIST}{small.pk}/change/")

    seed_conversations(conversations=10_000, messages_per_conversation=20)
    assert Conversation.objects.count() == 10_001 and Message.objects.count() == 200_002

    big = converse(alice, [(f"Question {n}", f"Answer {n}") for n in range(40)], title="Long one")
    for number in range(5):
        attach_image(question_of(big, number), ["red", "green", "blue", "white", "black"][number])
        actions.give_feedback(alice, big.messages.filter(role="assistant")[number].pk, "down", f"Wrong {number}")

    large_counts, response = measure()
    assert len(response.context["cl"].result_list) == 50
    assert large_counts == small_counts, (small_counts, large_counts)
    assert max(large_counts.values()) <= 12, large_counts

    big_page, response = queries_for(reviewer_client, f"{LIST}{big.pk}/change/")
    assert big_page == small_page <= 15, (small_page, big_page)
    assert response.content.decode().count("/thumbnail/") == 5
