"""The API says when an answer stopped at its length limit, as OpenAI and vLLM do: finish_reason "length"."""

import pytest

from tests.support.api import client_for
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_on_the_stand_in(transactional_db, worker, vllm_stand_in, bots, alice_key, settings):
    with serve_app(INFERENCE_URL=vllm_stand_in.base_url, INFERENCE_MODEL=settings.INFERENCE_MODEL) as url:
        with client_for(url, alice_key) as client:
            yield client


def test_an_answer_cut_at_max_tokens_finishes_with_length(api_on_the_stand_in):
    question = [{"role": "user", "content": "seed=31 tokens=40 rate=500"}]
    cut = api_on_the_stand_in.chat.completions.create(model="assistant", messages=question, max_tokens=8)
    assert cut.choices[0].finish_reason == "length"

    whole = api_on_the_stand_in.chat.completions.create(model="assistant", messages=question, max_tokens=100)
    assert whole.choices[0].finish_reason == "stop"


def test_a_streamed_answer_cut_at_max_tokens_finishes_with_length(api_on_the_stand_in):
    question = [{"role": "user", "content": "seed=32 tokens=40 rate=500"}]
    chunks = list(
        api_on_the_stand_in.chat.completions.create(model="assistant", messages=question, max_tokens=8, stream=True)
    )
    assert [choice.finish_reason for chunk in chunks for choice in chunk.choices if choice.finish_reason] == ["length"]
