"""Retried answers and edited questions: branches kept, browsable, and what the model is asked."""

import pytest

from chatapp.chat import actions
from chatapp.chat.errors import ChatError, NotFound
from chatapp.chat.models import Message
from chatapp.chat.prompt import conversation_turns

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_worker(no_worker):
    """Answers stay queued: each test writes the text it needs."""


def answered(reply, text):
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.DONE, content=text)
    reply.refresh_from_db()
    return reply


def two_turns(user):
    sent = actions.send_message(user, "What is tea?")
    conversation, first, reply = sent.conversation, sent.question, sent.reply
    answered(reply, "A drink.")
    sent = actions.send_message(user, "And coffee?", conversation_id=conversation.pk)
    second, reply2 = sent.question, sent.reply
    answered(reply2, "Another drink.")
    return conversation, first, reply, second, reply2


def test_regenerating_an_answer_keeps_the_earlier_one_as_version_one_of_two(alice, alice_client, no_worker):
    conversation, _, _, second, old = two_turns(alice)
    new = actions.retry_reply(alice, old.pk)
    assert new.status == Message.Status.QUEUED and new.parent_id == second.pk
    conversation.refresh_from_db()
    assert conversation.current_id == new.pk
    page = alice_client.get(f"/c/{conversation.pk}/").content.decode()
    assert "2 / 2" in page and "Another drink." not in page
    actions.choose_version(alice, old.pk)
    page = alice_client.get(f"/c/{conversation.pk}/").content.decode()
    assert "1 / 2" in page and "Another drink." in page


def test_a_retried_answer_is_asked_the_same_history_without_the_old_answer(alice, no_worker):
    _, _, _, _, old = two_turns(alice)
    new = actions.retry_reply(alice, old.pk)
    turns = conversation_turns(new)
    assert [(turn.role, turn.text) for turn in turns] == [
        ("user", "What is tea?"),
        ("assistant", "A drink."),
        ("user", "And coffee?"),
    ]


def test_an_edited_question_starts_a_branch_and_the_old_one_stays_browsable(alice, alice_client, no_worker):
    conversation, first, _reply, _second, reply2 = two_turns(alice)
    sent = actions.edit_question(alice, first.pk, "What is green tea?")
    question, new_reply = sent.question, sent.reply
    assert question.parent_id is None and new_reply.parent_id == question.pk
    assert [(turn.role, turn.text) for turn in conversation_turns(new_reply)] == [("user", "What is green tea?")]
    page = alice_client.get(f"/c/{conversation.pk}/").content.decode()
    assert "What is green tea?" in page and "And coffee?" not in page and "2 / 2" in page
    # Going back to the first version shows the old branch to its end.
    actions.choose_version(alice, first.pk)
    conversation.refresh_from_db()
    assert conversation.current_id == reply2.pk
    assert Message.objects.filter(conversation=conversation).count() == 6


def test_the_next_question_follows_the_branch_on_screen(alice, no_worker):
    conversation, first, _reply, second, _reply2 = two_turns(alice)
    actions.choose_version(alice, first.pk)
    new_reply = actions.edit_question(alice, second.pk, "And cocoa?").reply
    answered(new_reply, "Sweet.")
    third = actions.send_message(alice, "Which is best?", conversation_id=conversation.pk).question
    assert third.parent_id == new_reply.pk
    conversation.refresh_from_db()
    texts = [message.content for message in conversation.branch()]
    assert texts == ["What is tea?", "A drink.", "And cocoa?", "Sweet.", "Which is best?", ""]


def test_an_answer_being_written_cannot_be_retried(alice, no_worker):
    reply = actions.send_message(alice, "hello").reply
    with pytest.raises(ChatError, match="still being written"):
        actions.retry_reply(alice, reply.pk)


def test_an_edit_must_say_something(alice, no_worker):
    _, first, *_ = two_turns(alice)
    with pytest.raises(ChatError, match="Type a message"):
        actions.edit_question(alice, first.pk, "   ")


def test_another_users_messages_cannot_be_retried_edited_or_chosen(alice, bob, no_worker):
    _conversation, first, reply, *_ = two_turns(alice)
    for action, args in [
        (actions.retry_reply, (reply.pk,)),
        (actions.edit_question, (first.pk, "mine now")),
        (actions.choose_version, (reply.pk,)),
    ]:
        with pytest.raises(NotFound):
            action(bob, *args)


def test_the_admin_transcript_shows_versions_and_the_chosen_branch(alice, admin, client, no_worker):
    conversation, first, *_ = two_turns(alice)
    actions.edit_question(alice, first.pk, "What is green tea?")
    client.force_login(admin)
    page = client.get(f"/admin/chat/conversation/{conversation.pk}/change/").content.decode()
    assert "Question version 1 of 2" in page and "Question version 2 of 2" in page
    assert page.count("On the branch the user settled on") == 2
    assert page.count("Not on the user's chosen branch") == 4


def test_an_edited_question_keeps_the_images_of_the_original(alice, alice_client, no_worker, settings, tmp_path):
    from chatapp.images.actions import attacher_for
    from tests.support.pictures import picture, uploaded_id

    settings.MEDIA_ROOT = tmp_path / "media"
    image_id = uploaded_id(alice_client, picture(), "screenshot.png")
    sent = actions.send_message(alice, "What is this?", attach=attacher_for(alice, [image_id]))
    question, reply = sent.question, sent.reply
    answered(reply, "A red square.")
    edited = actions.edit_question(alice, question.pk, "What colour is this?").question
    assert [image.name for image in edited.images.all()] == ["screenshot.png"]
    assert [image.pk for image in question.images.all()] == [image_id]


def test_retrying_a_failed_answer_keeps_the_failure_as_version_one_counted_and_seen_by_reviewers(
    alice, alice_client, reviewer, client, no_worker
):
    conversation, _, _, _, old = two_turns(alice)
    Message.objects.filter(pk=old.pk).update(
        status=Message.Status.ERROR,
        content="Coffee is",
        error="The worker writing this answer stopped unexpectedly.",
        error_code=Message.ErrorCode.WORKER_LOST,
    )
    new = actions.retry_reply(alice, old.pk)
    answered(new, "A bitter drink.")

    page = alice_client.get(f"/c/{conversation.pk}/").content.decode()
    assert "A bitter drink." in page and "2 / 2" in page
    actions.choose_version(alice, old.pk)
    page = alice_client.get(f"/c/{conversation.pk}/").content.decode()
    assert "1 / 2" in page and "Coffee is" in page and "stopped unexpectedly" in page

    client.force_login(reviewer)
    review = client.get(f"/admin/chat/conversation/{conversation.pk}/change/").content.decode()
    assert "Coffee is" in review and "A bitter drink." in review
    listing = client.get("/admin/chat/conversation/").content.decode()
    assert 'class="review-errors">1<' in listing
