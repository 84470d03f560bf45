"""Exports: JSONL in the OpenAI chat format, CSV with one row per message, both streamed."""

import csv
import io
import json

import pytest

from chatapp.chat.models import Message
from chatapp.review import actions
from tests.support.conversations import answer_of, converse, question_of
from tests.support.pictures import attach_image

LIST = "/admin/chat/conversation/"


@pytest.fixture
def conversations(alice, bob, reviewer):
    pictures = converse(alice, [("What colour is this?", "Red."), ("Sure?", "Yes, *red*.")], title="Colours")
    attach_image(question_of(pictures), "red")
    actions.give_feedback(alice, answer_of(pictures, 1).pk, "down", "Condescending")
    actions.set_review(reviewer, pictures, "needs_fix", "Tone")
    broken = converse(bob, [("Hello", "", {"status": Message.Status.ERROR, "error": "Timed out."})], title="Broken")
    return [pictures, broken]


def export(client, action, conversations):
    response = client.post(LIST, {"action": action, "_selected_action": [c.pk for c in conversations]})
    assert response.status_code == 200
    assert response.streaming
    assert "attachment;" in response["Content-Disposition"]
    return b"".join(response.streaming_content).decode()


@pytest.mark.django_db
def test_jsonl_has_one_conversation_per_line_in_the_chat_format(reviewer_client, conversations):
    pictures, broken = conversations
    lines = export(reviewer_client, "export_jsonl", conversations).splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["metadata"]["conversation_id"] for r in records] == [pictures.pk, broken.pk]

    first = records[0]
    image = question_of(pictures).images.get()
    assert first["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What colour is this?"},
                {"type": "image_url", "image_url": {"url": f"http://testserver/images/{image.pk}/"}},
            ],
        },
        {"role": "assistant", "content": "Red."},
        {"role": "user", "content": "Sure?"},
        {"role": "assistant", "content": "Yes, *red*."},
    ]
    meta = first["metadata"]
    assert (meta["title"], meta["user"], meta["source"]) == ("Colours", "alice", "web")
    assert meta["review"]["status"] == "needs_fix" and meta["review"]["notes"] == "Tone"
    assert meta["review"]["reviewed_by"] == "rita"
    answer = meta["messages"][3]
    assert answer["id"] == answer_of(pictures, 1).pk
    assert (answer["model"], answer["completion_tokens"], answer["time_to_first_token"]) == ("test-model", 40, 0.25)
    assert [(f["user"], f["vote"], f["comment"]) for f in answer["feedback"]] == [("alice", "down", "Condescending")]

    assert records[1]["metadata"]["messages"][1]["status"] == "error"
    assert records[1]["metadata"]["messages"][1]["error"] == "Timed out."
    assert records[1]["metadata"]["review"]["status"] == "unreviewed"


@pytest.mark.django_db
def test_csv_has_one_row_per_message(reviewer_client, conversations):
    pictures, broken = conversations
    rows = list(csv.DictReader(io.StringIO(export(reviewer_client, "export_csv", conversations))))
    assert len(rows) == 6
    messages = Message.objects.filter(conversation__in=conversations).order_by("conversation_id", "created_at", "id")
    assert [int(row["message_id"]) for row in rows] == [m.pk for m in messages]
    for row, message in zip(rows, messages, strict=True):
        assert (row["role"], row["content"], row["status"], row["error"]) == (
            message.role,
            message.content,
            message.status,
            message.error,
        )
    disliked = rows[3]
    assert (disliked["thumbs_up"], disliked["thumbs_down"], disliked["feedback_comments"]) == (
        "0",
        "1",
        "Condescending",
    )
    assert disliked["review_status"] == "needs_fix" and disliked["user"] == "alice"
    assert rows[0]["image_urls"].startswith("http://testserver/images/")
    assert rows[4]["review_status"] == "unreviewed"


@pytest.mark.django_db
def test_exporting_needs_the_export_permission(client, bob, conversations):
    from django.contrib.auth.models import Permission

    bob.is_staff = True
    bob.save()
    bob.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    client.force_login(bob)
    response = client.post(LIST, {"action": "export_jsonl", "_selected_action": [c.pk for c in conversations]})
    assert not getattr(response, "streaming", False)
    assert "export_jsonl" not in client.get(LIST).content.decode()


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_export_streams_line_by_line(async_client, reviewer, conversations):
    await async_client.aforce_login(reviewer)
    response = await async_client.post(
        LIST, {"action": "export_jsonl", "_selected_action": [c.pk for c in conversations]}
    )
    assert response.is_async
    lines = [line async for line in response.streaming_content]
    assert len(lines) == 2
    assert [json.loads(line)["metadata"]["title"] for line in lines] == ["Colours", "Broken"]
