"""An API stream ends when its token is revoked or its user deactivated, not when the answer is done.

Real daphne, worker and Redis; the fake engine streams slowly so that the
answer is still being written when the token is withdrawn.
"""

import json
import time

import httpx
import pytest

from chatapp.api.actions import create_token, revoke_tokens
from chatapp.api.models import ApiToken
from chatapp.chat.models import Message
from tests.support.conversations import wait_until_finished
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app_url(fake_engine, worker, settings, bots):
    settings.INFERENCE_URL = fake_engine.base_url
    with serve_app(INFERENCE_URL=fake_engine.base_url, API_TOKEN_RECHECK_SECONDS="0.5") as url:
        yield url


def withdraw_token(token, alice):
    revoke_tokens(ApiToken.objects.filter(pk=token.pk))


def deactivate_user(token, alice):
    alice.is_active = False
    alice.save()


@pytest.mark.parametrize("withdraw", [withdraw_token, deactivate_user], ids=["revoked", "deactivated"])
def test_a_stream_ends_soon_after_its_token_is_withdrawn(withdraw, alice, app_url):
    token, key = create_token(alice, "tests")
    body = {
        "model": "assistant",
        "stream": True,
        "messages": [{"role": "user", "content": "seed=3 tokens=600 rate=30"}],
    }
    events = []
    with httpx.stream(
        "POST", f"{app_url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as response:
        assert response.status_code == 200
        withdrawn_at = None
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(line[6:])
            if withdrawn_at is None and len(events) >= 3:
                withdraw(token, alice)
                withdrawn_at = time.monotonic()
        ended_after = time.monotonic() - withdrawn_at
    print(f"\nthe stream ended {ended_after:.1f} s after the token was withdrawn (the answer would take 20 s)")
    assert events[-1] == "[DONE]"
    assert json.loads(events[-2])["error"]["code"] == "invalid_api_key"
    reply = wait_until_finished(Message.objects.filter(role="assistant").latest("id"))
    assert reply.status == Message.Status.STOPPED


def test_a_stream_the_client_drops_is_counted_on_the_ledger(alice, app_url):
    """As found: API streams the client dropped counted 0 tokens (usage comes in the engine's last chunk)."""
    from chatapp.chat.models import TokenUse

    _, key = create_token(alice, "tests")
    body = {
        "model": "assistant",
        "stream": True,
        "messages": [{"role": "user", "content": "seed=4 tokens=600 rate=30"}],
    }
    with httpx.stream(
        "POST", f"{app_url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as response:
        for number, _ in enumerate(response.iter_lines()):
            if number >= 8:
                break  # the client goes away mid-answer
    reply = wait_until_finished(Message.objects.filter(role="assistant").latest("id"))
    use = TokenUse.objects.get(answer_id=reply.pk)
    print(f"\na dropped stream: {use.prompt_tokens} prompt and {use.completion_tokens} answer tokens counted")
    assert reply.status == Message.Status.STOPPED and reply.completion_tokens is None
    assert use.settled and use.prompt_tokens > 0 and use.completion_tokens > 0
