"""The API shares the browser's per-user limits, refused as OpenAI does: 429 with Retry-After.

Real daphne and Redis; no worker is needed, nothing here gets as far as an answer.
"""

import base64
import io
import os
import time
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from PIL import Image

from chatapp.api.actions import create_token
from chatapp.chat.models import Conversation, Message, TokenQuota, TokenUse
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = {"model": "assistant", "messages": [{"role": "user", "content": "Hello?"}]}


def call(url, key, path="/v1/models", body=None):
    headers = {"Authorization": f"Bearer {key}"}
    if body is None:
        return httpx.get(url + path, headers=headers, timeout=60)
    return httpx.post(url + path, headers=headers, json=body, timeout=60)


def test_a_users_requests_are_counted_over_all_their_tokens(alice, bots):
    first, second = create_token(alice, "one")[1], create_token(alice, "two")[1]
    with serve_app(API_USER_RATE_LIMIT="3/minute", API_RATE_LIMIT="") as url:
        statuses = [call(url, key).status_code for key in (first, second, first, second)]
        refused = call(url, second)
    assert statuses == [200, 200, 200, 429]
    error = refused.json()["error"]
    assert error["code"] == "rate_limited" and "Too many API requests" in error["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_completion_beyond_the_answers_at_once_gets_429(alice, bots):
    key = create_token(alice, "tests")[1]
    # An answer still waiting for a worker (none runs here).
    waiting = Conversation.objects.create(owner=alice, title="Waiting")
    Message.objects.append(conversation=waiting, role="user", content="a question")
    Message.objects.append(conversation=waiting, role="assistant", status=Message.Status.QUEUED)
    with serve_app(MAX_ACTIVE_ANSWERS_PER_USER="1") as url:
        response = call(url, key, "/v1/chat/completions", QUESTION)
    assert response.status_code == 429 and response.json()["error"]["code"] == "too_many_answers"
    assert response.headers["Retry-After"]
    assert Message.objects.filter(role="user").count() == 1  # the refused request saved nothing


def test_a_completion_over_the_daily_quota_gets_429_insufficient_quota(alice, bots):
    key = create_token(alice, "tests")[1]
    TokenQuota.objects.create(user=alice, daily_tokens=50)
    earlier = Conversation.objects.create(owner=alice, title="Earlier")
    reply = Message.objects.append(
        conversation=earlier,
        role="assistant",
        content="an answer",
        prompt_tokens=40,
        completion_tokens=20,
        finished_at=timezone.now(),
    )
    TokenUse.objects.create(user=alice, answer_id=reply.pk, prompt_tokens=40, completion_tokens=20, settled=True)
    with serve_app() as url:
        response = call(url, key, "/v1/chat/completions", QUESTION)
    error = response.json()["error"]
    assert response.status_code == 429 and error["type"] == "insufficient_quota"
    assert "60 of your 50" in error["message"] and int(response.headers["Retry-After"]) > 0


def daphne_cpu_seconds():
    """CPU time of the daphne processes this test started (children of this process)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"daphne" in cmdline:
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def test_thirteen_huge_images_are_refused_before_any_is_decoded(alice, bots):
    buffer = io.BytesIO()
    Image.new("1", (7000, 7000)).save(buffer, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    images = [{"type": "image_url", "image_url": {"url": uri}}] * 5
    turns = [
        {"role": "user", "content": [{"type": "text", "text": "look"}, *images]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "and these"}, *images]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "what now?"}, *images[:3]]},
    ]
    key = create_token(alice, "tests")[1]
    with serve_app() as url:
        call(url, key)
        cpu, wall = daphne_cpu_seconds(), time.monotonic()
        response = call(url, key, "/v1/chat/completions", {"model": "assistant", "messages": turns})
        cpu, wall = daphne_cpu_seconds() - cpu, time.monotonic() - wall
    body = len(str(turns))
    print(
        f"\n13 images of 7000×7000 in a {body / 1000:.0f} kB request: {response.status_code} after "
        f"{cpu * 1000:.0f} ms of server CPU ({wall * 1000:.0f} ms)"
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"].lower()
    assert "pixels" in message or "at most" in message
