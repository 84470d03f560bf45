"""Search, pin, archive, export and the grouped list, for the owner only."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from chatapp.chat import actions
from chatapp.chat.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


def conversation_with(user, question, answer):
    sent = actions.send_message(user, question)
    conversation, reply = sent.conversation, sent.reply
    Message.objects.filter(pk=reply.pk).update(status=Message.Status.DONE, content=answer)
    return conversation, reply


def test_search_finds_message_text_highlights_it_and_links_to_the_message(alice, alice_client, no_worker):
    conversation, reply = conversation_with(alice, "Deploy steps?", "Run the <b>release</b> pipeline on Tuesday.")
    conversation_with(alice, "Lunch?", "Noodles.")
    page = alice_client.get("/search/", {"q": "pipeline"}).content.decode()
    assert "<mark>pipeline</mark>" in page
    assert "<b>release</b>" not in page  # the text is escaped, only <mark> is added
    assert f"/c/{conversation.pk}/?m={reply.pk}#message-{reply.pk}" in page
    assert "Noodles" not in page
    opened = alice_client.get(f"/c/{conversation.pk}/", {"m": reply.pk}).content.decode()
    assert f'id="message-{reply.pk}" tabindex="-1"' in opened


def test_search_finds_titles(alice, alice_client, no_worker):
    conversation_with(alice, "Quarterly budget review", "Sure.")
    page = alice_client.get("/search/", {"q": "budget"}).content.decode()
    assert "<mark>budget</mark>" in page


def test_search_never_shows_another_users_conversations(alice, bob, client, no_worker):
    conversation_with(alice, "Secret launch date", "Friday.")
    client.force_login(bob)
    page = client.get("/search/", {"q": "launch"}).content.decode()
    assert "Secret" not in page and "Nothing matches" in page


def test_pinned_conversations_come_first_and_archived_ones_leave_the_list(alice, alice_client, no_worker):
    old, _ = conversation_with(alice, "Old one", "x")
    pinned, _ = conversation_with(alice, "Keep me handy", "x")
    archived, _ = conversation_with(alice, "Done with this", "x")
    Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=30))
    assert alice_client.post(f"/c/{pinned.pk}/pin/", {"pinned": "1"}).status_code == 302
    assert alice_client.post(f"/c/{archived.pk}/archive/", {"archived": "1"}).status_code == 302
    page = alice_client.get("/").content.decode()
    assert page.index("Pinned") < page.index("Keep me handy") < page.index("Older") < page.index("Old one")
    assert page.index("Archived (1)") < page.index("Done with this")
    assert "Today" in page
    alice_client.post(f"/c/{archived.pk}/archive/", {"archived": "0"})
    assert Conversation.objects.get(pk=archived.pk).archived_at is None


def test_export_as_markdown_and_json(alice, alice_client, no_worker):
    conversation, _reply = conversation_with(alice, "What is tea?", "A **drink**.")
    markdown = alice_client.get(f"/c/{conversation.pk}/export.md")
    assert markdown["Content-Disposition"] == f'attachment; filename="conversation-{conversation.pk}.md"'
    text = markdown.content.decode()
    assert "# What is tea?" in text and "## You" in text and "A **drink**." in text
    data = json.loads(alice_client.get(f"/c/{conversation.pk}/export.json").content)
    assert [m["content"] for m in data["messages"]] == ["What is tea?", "A **drink**."]
    assert all(m["on_chosen_branch"] for m in data["messages"])


def test_exports_link_images_the_owner_can_open(alice, alice_client, no_worker, settings, tmp_path):
    from chatapp.images.actions import attacher_for
    from tests.support.pictures import picture, uploaded_id

    settings.MEDIA_ROOT = tmp_path / "media"
    image_id = uploaded_id(alice_client, picture(), "diagram.png")
    conversation = actions.send_message(alice, "Look", attach=attacher_for(alice, [image_id])).conversation
    text = alice_client.get(f"/c/{conversation.pk}/export.md").content.decode()
    url = f"http://testserver/images/{image_id}/"
    assert f"![diagram.png]({url}" in text
    assert alice_client.get(url.replace("http://testserver", "")).status_code == 200


def test_other_users_get_404_for_exports_pin_and_archive(alice, bob, client, no_worker):
    conversation, _ = conversation_with(alice, "Private", "x")
    client.force_login(bob)
    for url in ("export.md", "export.json", "transcript/"):
        assert client.get(f"/c/{conversation.pk}/{url}").status_code == 404
    for url in ("pin/", "archive/"):
        assert client.post(f"/c/{conversation.pk}/{url}").status_code == 404


def test_api_conversations_are_listed_apart_marked_api_and_reviewable_with_their_source(
    alice, alice_client, reviewer, client, no_worker
):
    conversation_with(alice, "Typed in the chat", "x")
    for number in range(3):
        actions.send_transcript(alice, [actions.Turn("user", f"Script request {number}")], None)
    page = alice_client.get("/").content.decode()
    chat_list = page[page.index('id="conversation-list"') : page.index("From the API")]
    assert "Typed in the chat" in chat_list and "Script request" not in chat_list
    assert "From the API (3)" in page
    assert page.count('<span class="source-badge">API</span> Script request') == 3

    api_one = Conversation.objects.get(title="Script request 0")
    assert Conversation.objects.get(pk=api_one.pk).source == "api"
    assert 'title="Started by an API client' in alice_client.get(f"/c/{api_one.pk}/").content.decode()

    client.force_login(reviewer)
    listing = client.get("/admin/chat/conversation/", {"source": "api"}).content.decode()
    assert "Script request 0" in listing and "Typed in the chat" not in listing
