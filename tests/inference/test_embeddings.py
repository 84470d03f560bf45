"""`POST /v1/embeddings`: the model service embeds text on the CPU, in OpenAI's shape."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import openai
import pytest

from inference.embeddings import DIMENSIONS, MAX_INPUTS, MODEL_NAME


@pytest.fixture
def client(service):
    return openai.OpenAI(base_url=service.base_url, api_key="unused", max_retries=0)


def vectors(response) -> np.ndarray:
    return np.array([item.embedding for item in sorted(response.data, key=lambda item: item.index)])


def test_the_openai_client_gets_one_unit_vector_per_input_in_order(client):
    response = client.embeddings.create(model=MODEL_NAME, input=["How do I book leave?", "Where can I park?"])

    found = vectors(response)
    assert found.shape == (2, DIMENSIONS)
    assert np.allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-3)
    assert response.model == MODEL_NAME
    assert response.usage.prompt_tokens > 0


def test_a_paraphrase_is_closer_than_another_topic_in_english_french_and_german(client):
    found = vectors(
        client.embeddings.create(
            model=MODEL_NAME,
            input=[
                "How do I request time off?",
                "What is the procedure to book annual leave?",
                "Comment poser des congés ?",
                "Wie beantrage ich Urlaub?",
                "Where is the fire assembly point?",
            ],
        )
    )
    similarity = found @ found[0]

    assert min(similarity[1:4]) > similarity[4]


def test_base64_vectors_are_the_same_floats(client):
    plain = vectors(client.embeddings.create(model=MODEL_NAME, input="Where can I park?"))[0]
    response = httpx.post(
        str(client.base_url) + "embeddings",
        json={"model": MODEL_NAME, "input": "Where can I park?", "encoding_format": "base64"},
    )
    encoded = np.frombuffer(base64.b64decode(response.json()["data"][0]["embedding"]), dtype="<f4")

    assert np.allclose(encoded, plain, atol=1e-5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": []}, "non-empty list"),
        ({"input": [""]}, "'input[0]' is empty"),
        ({"input": [[101, 2023]]}, "token arrays are not supported"),
        ({"input": ["a"] * (MAX_INPUTS + 1)}, f"send at most {MAX_INPUTS} per request"),
        ({"input": "a", "encoding_format": "int8"}, "'encoding_format'"),
    ],
)
def test_a_bad_request_gets_a_clear_400(service, body, message):
    response = httpx.post(service.base_url + "/embeddings", json=body)

    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_another_model_name_is_a_404_naming_the_served_one(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="text-embedding-3-small", input="hi")

    assert MODEL_NAME in str(caught.value)
