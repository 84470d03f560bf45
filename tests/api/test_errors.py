"""Failures come back in OpenAI's error shape with the status codes its clients expect."""

import httpx
import openai
import pytest

from chatapp.api.actions import create_token, revoke_tokens
from chatapp.api.models import ApiToken
from chatapp.chat.models import Message
from tests.support.api import client_for

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = [{"role": "user", "content": "Hello?"}]


def error_of(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_a_missing_wrong_or_revoked_key_gets_401(live_app, bots, alice):
    with client_for(live_app, "cht_not-a-real-key-at-all") as api:
        with pytest.raises(openai.AuthenticationError) as wrong:
            api.models.list()
    assert wrong.value.status_code == 401
    assert wrong.value.code == "invalid_api_key"
    assert "cht_not-" in wrong.value.message and "real-key" not in wrong.value.message

    response = httpx.post(f"{live_app}/v1/chat/completions", json={"model": "assistant", "messages": QUESTION})
    assert response.status_code == 401
    assert "didn't provide an API key" in error_of(response)["message"]
    assert response.headers["WWW-Authenticate"] == "Bearer"

    token, key = create_token(alice, "soon revoked")
    with client_for(live_app, key) as api:
        assert [model.id for model in api.models.list()] == ["assistant", "team-faq"]
        revoke_tokens(ApiToken.objects.filter(pk=token.pk))
        with pytest.raises(openai.AuthenticationError):
            api.models.list()
    assert not Message.objects.exists()


def test_a_session_cookie_is_no_key(live_app, bots, alice, client):
    client.force_login(alice)
    cookies = {"sessionid": client.cookies["sessionid"].value}
    response = httpx.post(
        f"{live_app}/v1/chat/completions", json={"model": "assistant", "messages": QUESTION}, cookies=cookies
    )
    assert response.status_code == 401


def test_an_unknown_model_gets_404(api):
    with pytest.raises(openai.NotFoundError) as error:
        api.chat.completions.create(model="gpt-4o", messages=QUESTION)
    assert error.value.status_code == 404
    assert error.value.code == "model_not_found"
    assert error.value.param == "model"
    assert "`gpt-4o` does not exist" in error.value.message
    with pytest.raises(openai.NotFoundError):
        api.models.retrieve("gpt-4o")
    assert not Message.objects.exists()


BAD_REQUESTS = [
    # (what is sent, the param blamed, words of the message)
    ({"model": "assistant"}, "messages", "non-empty array"),
    (
        {"model": "assistant", "messages": [{"role": "system", "content": "Be brief."}]},
        "messages",
        "must be the user's",
    ),
    (
        {"model": "assistant", "messages": QUESTION + [{"role": "assistant", "content": "Hi!"}]},
        "messages",
        "must be the user's",
    ),
    ({"model": "assistant", "messages": [{"role": "user", "content": "   "}]}, "messages[0].content", "Type a message"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x" * 20001}]}, "messages[0].content", "too long"),
    ({"model": "assistant", "messages": [{"role": "tool", "content": "42"}]}, "messages[0].role", "Unsupported role"),
    ({"model": "assistant", "messages": QUESTION, "temperature": 7}, "temperature", "from 0 to 2"),
    ({"model": "assistant", "messages": QUESTION, "max_tokens": 0}, "max_tokens", "positive integer"),
    ({"model": "assistant", "messages": QUESTION, "n": 3}, "n", "`n` must be 1"),
    ({"messages": QUESTION}, "model", "must provide a model"),
]


def test_bad_input_gets_400_naming_what_is_wrong(live_app, bots, alice_key):
    headers = {"Authorization": f"Bearer {alice_key}"}
    url = f"{live_app}/v1/chat/completions"
    with httpx.Client(headers=headers, timeout=30) as http:
        response = http.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
        assert response.status_code == 400
        assert "could not parse the JSON body" in error_of(response)["message"]
        for body, param, words in BAD_REQUESTS:
            response = http.post(url, json=body)
            assert response.status_code == 400, body
            error = error_of(response)
            assert error["type"] == "invalid_request_error"
            assert error["param"] == param, body
            assert words in error["message"], (body, error)
        assert http.get(url).status_code == 405
        unknown = http.get(f"{live_app}/v1/embeddings")
        assert unknown.status_code == 404 and "Unknown endpoint" in error_of(unknown)["message"]
    assert not Message.objects.exists()


def test_a_deeply_nested_body_gets_400_in_openais_shape(live_app, bots, alice_key):
    response = httpx.post(
        f"{live_app}/v1/chat/completions",
        content=b"[" * 100_000,
        headers={"Authorization": f"Bearer {alice_key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error" and "nested too deeply" in error["message"]
    assert not Message.objects.exists()


def test_more_requests_than_the_rate_allows_get_429(monkeypatch, request, bots, alice_key):
    monkeypatch.setenv("API_RATE_LIMIT", "3/minute")
    live_app = request.getfixturevalue("live_app")  # started with that limit
    with client_for(live_app, alice_key) as api:
        for _ in range(3):
            api.models.list()
        with pytest.raises(openai.RateLimitError) as error:
            api.models.list()
    assert error.value.status_code == 429
    assert error.value.code == "rate_limit_exceeded"
    assert 1 <= int(error.value.response.headers["Retry-After"]) <= 60
    assert "3 per 1 minute" in error.value.message


def test_a_model_service_that_is_down_gets_503(api, settings):
    settings.INFERENCE_URL = "http://127.0.0.1:9/v1"  # the worker reads it; nothing listens there
    settings.ANSWER_QUEUE_TIMEOUT = 2  # how long an answer waits for a model that may be starting

    with pytest.raises(openai.InternalServerError) as error:
        api.chat.completions.create(model="assistant", messages=QUESTION)
    assert error.value.status_code == 503
    assert error.value.code == "model_unavailable"
    assert error.value.body["message"].startswith("The model service is unreachable.")

    # A stream that could not start gets the status too, not a 200 with an error inside.
    with pytest.raises(openai.InternalServerError) as error:
        api.chat.completions.create(model="assistant", messages=QUESTION, stream=True)
    assert error.value.status_code == 503

    assert list(Message.objects.filter(role="assistant").values_list("status", flat=True)) == ["error", "error"]
