"""Users rate their own answers with thumbs up or down and an optional comment."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatapp.chat.models import Message
from chatapp.review.models import Feedback
from tests.support.conversations import answer_of, converse, question_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(alice):
    return converse(alice, [("What is a monad?", "A monoid in the category of endofunctors.")])


def url_for(message):
    return f"/review/feedback/{message.pk}/"


def test_owner_rates_an_answer_and_changes_their_mind(alice_client, alice, conversation):
    answer = answer_of(conversation)

    response = alice_client.post(url_for(answer), {"vote": "down", "comment": "Too terse."})
    assert response.status_code == 200
    assert response.json() == {"message_id": answer.pk, "vote": "down", "comment": "Too terse."}

    alice_client.post(url_for(answer), {"vote": "up", "comment": ""})
    feedback = Feedback.objects.get()
    assert (feedback.message, feedback.user, feedback.vote, feedback.comment) == (answer, alice, "up", "")


def test_an_empty_vote_withdraws_the_feedback(alice_client, conversation):
    answer = answer_of(conversation)
    alice_client.post(url_for(answer), {"vote": "up"})
    response = alice_client.post(url_for(answer), {"vote": ""})
    assert response.json()["vote"] == ""
    assert not Feedback.objects.exists()


def test_other_user_gets_404(client, bob, conversation):
    client.force_login(bob)
    assert client.post(url_for(answer_of(conversation)), {"vote": "down"}).status_code == 404
    assert not Feedback.objects.exists()


def test_anonymous_visitor_is_sent_to_sign_in(client, conversation):
    response = client.post(url_for(answer_of(conversation)), {"vote": "down"})
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_a_question_cannot_be_rated(alice_client, conversation):
    assert alice_client.post(url_for(question_of(conversation)), {"vote": "up"}).status_code == 404


def test_an_answer_still_being_written_cannot_be_rated(alice_client, conversation):
    answer = answer_of(conversation)
    Message.objects.filter(pk=answer.pk).update(status=Message.Status.STREAMING)
    response = alice_client.post(url_for(answer), {"vote": "up"})
    assert response.status_code == 400
    assert response.json()["error"] == "Only a finished answer can be rated."


def test_a_vote_must_be_up_or_down(alice_client, conversation):
    assert alice_client.post(url_for(answer_of(conversation)), {"vote": "meh"}).status_code == 400


def test_the_csrf_token_from_the_cookie_is_required(alice, conversation):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    page = client.get(f"/c/{conversation.pk}/")
    token = page.cookies["csrftoken"].value
    answer = answer_of(conversation)
    assert client.post(url_for(answer), {"vote": "up"}).status_code == 403
    assert client.post(url_for(answer), {"vote": "up"}, headers={"X-CSRFToken": token}).status_code == 200


def test_the_transcript_shows_the_buttons_with_the_current_vote(alice_client, alice, conversation):
    answer = answer_of(conversation)
    Feedback.objects.create(message=answer, user=alice, vote="down", comment="Wrong.")
    html = alice_client.get(f"/c/{conversation.pk}/").content.decode()
    assert html.count("Good answer") >= 2  # the answer's widget and the template for live answers
    assert 'data-vote="down" aria-pressed="true"' in html
    assert 'value="Wrong."' in html
    assert "review/feedback.js" in html


def test_the_transcript_has_no_buttons_on_questions_or_unfinished_answers(alice_client, alice, conversation):
    Message.objects.filter(pk=answer_of(conversation).pk).update(status=Message.Status.ERROR, error="Model down")
    html = alice_client.get(f"/c/{conversation.pk}/").content.decode()
    transcript = html.split('id="transcript"', 1)[1]
    assert 'class="feedback" data-vote="" hidden' in transcript
    assert transcript.count('class="feedback"') == 1


def test_the_votes_in_a_long_transcript_cost_no_query_per_answer(alice_client, alice):
    def page_queries(conversation):
        with CaptureQueriesContext(connection) as captured:
            alice_client.get(f"/c/{conversation.pk}/")
        return len(captured)

    short = converse(alice, [("q", "a")])
    long = converse(alice, [(f"q{n}", f"a{n}") for n in range(20)])
    for message in long.messages.filter(role="assistant"):
        Feedback.objects.create(message=message, user=alice, vote="up")
    assert page_queries(long) == page_queries(short)
