"""The conversation list: the columns and filters that find bad answers fast."""

import re
from datetime import timedelta
from html import unescape

import pytest

from chatapp.chat.models import Conversation, Message
from chatapp.review import actions
from tests.support.conversations import answer_of, converse

pytestmark = pytest.mark.django_db

LIST = "/admin/chat/conversation/"


def titles(response):
    return [str(conversation) for conversation in response.context["cl"].result_list]


@pytest.fixture
def conversations(alice, bob):
    ok = converse(
        alice, [("Capital of France?", "Paris."), ("And Italy?", "Rome.")], title="Capitals", age=timedelta(hours=1)
    )
    bad = converse(bob, [("Explain kubectl apply", "It bakes a cake.")], title="Kubernetes", model="big-model")
    broken = converse(
        alice,
        [("Summarise this", "", {"status": Message.Status.ERROR, "error": "The model is unreachable."})],
        title="Broken",
        source=Conversation.Source.API,
        age=timedelta(days=10),
    )
    return {"ok": ok, "bad": bad, "broken": broken}


def test_the_list_shows_figures_per_conversation(reviewer_client, alice, conversations):
    actions.give_feedback(alice, answer_of(conversations["ok"]).pk, "up")
    actions.give_feedback(alice, answer_of(conversations["ok"], 1).pk, "down", "Rome is right but terse")
    response = reviewer_client.get(LIST)
    rows = {str(c): c for c in response.context["cl"].result_list}
    ok = rows["Capitals"]
    assert (ok.message_count, ok.error_count, ok.up_count, ok.down_count, ok.answer_model) == (4, 0, 1, 1, "test-model")
    assert rows["Broken"].error_count == 1
    assert rows["Kubernetes"].answer_model == "big-model"
    html = response.content.decode()
    assert "▲ 1" in html and "▼ 1" in html
    assert "Unreviewed" in html and "API" in html


def test_the_list_is_sorted_by_last_activity(reviewer_client, conversations):
    assert titles(reviewer_client.get(LIST)) == ["Kubernetes", "Capitals", "Broken"]
    assert titles(reviewer_client.get(LIST, {"o": "6"})) == ["Broken", "Capitals", "Kubernetes"]


def test_feedback_given_in_the_chat_shows_up_in_the_thumbs_down_filter(client, reviewer_client, bob, conversations):
    client.force_login(bob)
    client.post(f"/review/feedback/{answer_of(conversations['bad']).pk}/", {"vote": "down", "comment": "Nonsense"})
    assert titles(reviewer_client.get(LIST, {"thumbs_down": "yes"})) == ["Kubernetes"]
    assert titles(reviewer_client.get(LIST, {"thumbs_down": "no"})) == ["Capitals", "Broken"]


def test_a_thumbs_up_is_not_a_thumbs_down(reviewer_client, bob, conversations):
    actions.give_feedback(bob, answer_of(conversations["bad"]).pk, "up")
    assert titles(reviewer_client.get(LIST, {"thumbs_down": "yes"})) == []


def test_filter_by_error_source_model_and_user(reviewer_client, alice, conversations):
    assert titles(reviewer_client.get(LIST, {"error": "yes"})) == ["Broken"]
    assert titles(reviewer_client.get(LIST, {"source": "api"})) == ["Broken"]
    assert titles(reviewer_client.get(LIST, {"model": "big-model"})) == ["Kubernetes"]
    assert titles(reviewer_client.get(LIST, {"owner__id__exact": alice.pk})) == ["Capitals", "Broken"]


def test_filter_by_last_activity(reviewer_client, conversations):
    html = reviewer_client.get(LIST).content.decode()
    past_week = re.search(r'href="(\?updated_at__gte=[^"]+)"[^>]*>Past 7 days<', html).group(1)
    assert titles(reviewer_client.get(LIST + unescape(past_week))) == ["Kubernetes", "Capitals"]


def test_filter_by_review_status(reviewer_client, reviewer, conversations):
    actions.set_review(reviewer, conversations["bad"], "needs_fix", "Hallucinated")
    actions.set_review(reviewer, conversations["ok"], "approved")
    assert titles(reviewer_client.get(LIST, {"review": "needs_fix"})) == ["Kubernetes"]
    assert titles(reviewer_client.get(LIST, {"review": "approved"})) == ["Capitals"]
    assert titles(reviewer_client.get(LIST, {"review": "unreviewed"})) == ["Broken"]
    assert "Needs fix" in reviewer_client.get(LIST).content.decode()


def test_search_finds_message_text_titles_and_users(reviewer_client, conversations):
    assert titles(reviewer_client.get(LIST, {"q": "bakes a cake"})) == ["Kubernetes"]
    assert titles(reviewer_client.get(LIST, {"q": "capitals"})) == ["Capitals"]
    assert titles(reviewer_client.get(LIST, {"q": "bob"})) == ["Kubernetes"]
    # One row per conversation, however many of its messages match.
    assert titles(reviewer_client.get(LIST, {"q": "r"})).count("Capitals") == 1


def test_filters_combine(reviewer_client, alice, bob, conversations):
    actions.give_feedback(alice, answer_of(conversations["ok"]).pk, "down")
    actions.give_feedback(bob, answer_of(conversations["bad"]).pk, "down")
    assert titles(reviewer_client.get(LIST, {"thumbs_down": "yes", "owner__id__exact": bob.pk})) == ["Kubernetes"]
