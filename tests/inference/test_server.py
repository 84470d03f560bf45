"""The OpenAI-compatible service, driven over HTTP with the real model."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json

import httpx
import pytest
from httpx_sse import aconnect_sse
from PIL import Image, ImageDraw, ImageFont

MODEL = "SmolLM2-135M-Instruct"
HELLO = [{"role": "user", "content": "Say hello."}]


def chat(**fields) -> dict:
    return {"model": MODEL, "messages": HELLO, "max_tokens": 16, **fields}


def long_generation(**fields) -> dict:
    """A request that keeps the engine busy for many seconds unless cancelled."""
    return chat(max_tokens=1500, ignore_eos=True, stream=True, **fields)


def sse_payloads(raw: str) -> list[str]:
    """The data of each event in a vLLM-style stream: ``data: ...`` lines split by blank lines."""
    events = [block for block in raw.split("\n\n") if block and not block.startswith(":")]
    assert all(block.startswith("data: ") and "\n" not in block for block in events), raw
    return [block.removeprefix("data: ") for block in events]


async def stream_raw(service, body: dict) -> str:
    async with httpx.AsyncClient(timeout=30) as http:
        async with http.stream("POST", service.base_url + "/chat/completions", json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            return (await response.aread()).decode()


async def test_health_reports_model_and_an_idle_engine(idle_service):
    health = await idle_service.health()
    assert health["model"] == MODEL
    assert health["busy"] is False and health["queued"] == 0
    assert health["context_length"] == 2048


async def test_models_lists_the_served_model_and_says_it_reads_images_by_ocr(idle_service):
    async with httpx.AsyncClient() as http:
        body = (await http.get(idle_service.base_url + "/models")).json()
    assert body["object"] == "list"
    [model] = body["data"]
    assert model["id"] == MODEL and model["object"] == "model"
    assert model["capabilities"] == {"vision": False, "ocr": True}


async def test_stream_sends_role_then_several_content_chunks_then_done(idle_service):
    raw = await stream_raw(idle_service, chat(stream=True, max_tokens=12, ignore_eos=True))
    payloads = sse_payloads(raw)
    assert raw.endswith("data: [DONE]\n\n")
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(p) for p in payloads[:-1]]
    assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("chatcmpl-")
    for c in chunks:
        assert c["object"] == "chat.completion.chunk" and c["model"] == MODEL and isinstance(c["created"], int)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [c["choices"][0]["delta"].get("content") for c in chunks[1:-1]]
    assert len(contents) >= 3 and all(contents)
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert not any("usage" in c for c in chunks)


async def test_usage_arrives_in_final_chunk_when_requested(idle_service):
    body = chat(stream=True, max_tokens=9, ignore_eos=True, stream_options={"include_usage": True})
    chunks = [json.loads(p) for p in sse_payloads(await stream_raw(idle_service, body))[:-1]]
    *_, finish, usage = chunks
    assert finish["choices"][0]["finish_reason"] == "length"
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] == 9
    assert usage["usage"]["prompt_tokens"] > 5
    assert usage["usage"]["total_tokens"] == usage["usage"]["prompt_tokens"] + 9


async def test_non_stream_returns_message_and_usage(idle_service):
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            idle_service.base_url + "/chat/completions", json=chat(max_tokens=7, ignore_eos=True)
        )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-") and body["model"] == MODEL
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 7


async def test_answers_end_by_themselves_with_finish_reason_stop(idle_service):
    async with httpx.AsyncClient(timeout=30) as http:
        body = (
            await http.post(
                idle_service.base_url + "/chat/completions",
                json=chat(max_tokens=200, temperature=0, messages=[{"role": "user", "content": "What is 2+2?"}]),
            )
        ).json()
    assert body["choices"][0]["finish_reason"] == "stop"
    assert "<|im_end|>" not in body["choices"][0]["message"]["content"]
    assert body["usage"]["completion_tokens"] < 200


async def test_same_seed_gives_the_same_sampled_answer(idle_service):
    async def answer() -> str:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                idle_service.base_url + "/chat/completions",
                json=chat(max_tokens=20, temperature=1.0, seed=1234),
            )
        return response.json()["choices"][0]["message"]["content"]

    assert await answer() == await answer()


async def test_stop_sequence_cuts_the_answer_before_it(idle_service):
    async def answer(**fields) -> dict:
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(
                idle_service.base_url + "/chat/completions", json=chat(max_tokens=30, temperature=0, **fields)
            )
        return response.json()["choices"][0]

    full = (await answer(ignore_eos=True))["message"]["content"]
    words = full.split()
    assert len(words) >= 4, full
    stop = words[3]
    cut = await answer(ignore_eos=True, stop=[stop])
    assert cut["finish_reason"] == "stop"
    assert cut["message"]["content"] == full[: full.index(stop)]


async def test_unknown_model_is_404_in_openai_shape(idle_service):
    async with httpx.AsyncClient() as http:
        response = await http.post(idle_service.base_url + "/chat/completions", json=chat(model="gpt-17"))
    assert response.status_code == 404
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "gpt-17" in error["message"] and error["code"] == "model_not_found"


async def test_bad_json_is_400(idle_service):
    async with httpx.AsyncClient() as http:
        response = await http.post(
            idle_service.base_url + "/chat/completions",
            content=b'{"model": "x", "messages": [',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and "JSON" in error["message"]


async def test_deeply_nested_json_is_400(idle_service):
    async with httpx.AsyncClient() as http:
        response = await http.post(
            idle_service.base_url + "/chat/completions",
            content=b"[" * 100_000,
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages[0].content[0]"),
        ({"temperature": 7}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"n": 2}, "n"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
    ],
)
async def test_invalid_fields_are_400_naming_the_field(idle_service, fields, param):
    async with httpx.AsyncClient() as http:
        response = await http.post(idle_service.base_url + "/chat/completions", json={**chat(), **fields})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_unknown_routes_answer_in_openai_error_shape(idle_service):
    async with httpx.AsyncClient() as http:
        response = await http.get(idle_service.base_url + "/nope")
    assert response.status_code == 404
    assert "message" in response.json()["error"]


async def test_prompt_longer_than_context_is_400(idle_service):
    huge = [{"role": "user", "content": "lorem ipsum " * 2000}]
    async with httpx.AsyncClient() as http:
        for stream in (False, True):
            response = await http.post(
                idle_service.base_url + "/chat/completions", json=chat(messages=huge, stream=stream)
            )
            assert response.status_code == 400
            error = response.json()["error"]
            assert error["code"] == "context_length_exceeded"
            assert "2048" in error["message"]


async def test_prompt_plus_max_tokens_over_context_is_400(idle_service):
    async with httpx.AsyncClient() as http:
        response = await http.post(idle_service.base_url + "/chat/completions", json=chat(max_tokens=2048))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "context_length_exceeded"


@contextlib.asynccontextmanager
async def open_stream(service, body: dict):
    """An open streaming response on its own connection, closed (= disconnect) on exit."""
    async with httpx.AsyncClient(timeout=30) as http:
        async with aconnect_sse(http, "POST", service.base_url + "/chat/completions", json=body) as source:
            assert source.response.status_code == 200
            yield source.aiter_sse()


async def next_data(events) -> dict | str:
    event = await anext(events)
    return event.data if event.data == "[DONE]" else json.loads(event.data)


async def test_second_request_waits_while_first_runs(idle_service):
    first_body = chat(stream=True, max_tokens=40, ignore_eos=True)
    async with open_stream(idle_service, first_body) as first:
        assert (await next_data(first))["choices"][0]["delta"]["role"] == "assistant"
        await next_data(first)  # generating now
        async with open_stream(idle_service, chat(stream=True, max_tokens=3)) as second:
            await idle_service.wait_until(lambda h: h["busy"] and h["queued"] == 1)
            second_started = asyncio.create_task(next_data(second))
            while True:
                event = await next_data(first)
                if event["choices"][0]["finish_reason"] is not None:
                    break
                assert not second_started.done(), "the second request started before the first finished"
            assert event["choices"][0]["finish_reason"] == "length"
            role_chunk = await asyncio.wait_for(second_started, 5)
            assert role_chunk["choices"][0]["delta"]["role"] == "assistant"
            assert await next_data(first) == "[DONE]"


async def test_queue_full_answers_503_with_retry_after(idle_service):
    async with contextlib.AsyncExitStack() as streams:
        await streams.enter_async_context(open_stream(idle_service, long_generation()))
        for _ in range(idle_service.queue_size):
            await streams.enter_async_context(open_stream(idle_service, chat(stream=True)))
        await idle_service.wait_until(lambda h: h["busy"] and h["queued"] == idle_service.queue_size)
        rejected_before = (await idle_service.health())["rejected"]
        async with httpx.AsyncClient() as http:
            response = await http.post(idle_service.base_url + "/chat/completions", json=chat(stream=True))
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) >= 1
        error = response.json()["error"]
        assert error["code"] == "queue_full" and "busy" in error["message"]
        assert (await idle_service.health())["rejected"] == rejected_before + 1
    # Leaving dropped the queued ones and stopped the running one.
    await idle_service.wait_idle(timeout=5)


async def test_a_client_disconnect_frees_the_engine_for_the_next_request(idle_service):
    before = await idle_service.health()
    async with contextlib.AsyncExitStack() as running_connection:
        running = await running_connection.enter_async_context(open_stream(idle_service, long_generation()))
        await next_data(running)
        for _ in range(5):
            assert (await next_data(running))["choices"][0]["delta"]["content"]
        async with open_stream(idle_service, chat(stream=True, max_tokens=3)) as waiting_stream:
            waiting = asyncio.create_task(next_data(waiting_stream))
            await idle_service.wait_until(lambda h: h["busy"] and h["queued"] == 1)
            assert not waiting.done()
            await running_connection.aclose()
            # Before the running answer's 1500 tokens could have ended on their own.
            role_chunk = await asyncio.wait_for(waiting, 10)
            assert role_chunk["choices"][0]["delta"]["role"] == "assistant"
            while await next_data(waiting_stream) != "[DONE]":
                pass
    after = await idle_service.wait_idle(timeout=5)
    assert after["cancelled"] == before["cancelled"] + 1


async def test_non_stream_client_that_leaves_stops_its_generation(idle_service):
    before = await idle_service.health()
    async with httpx.AsyncClient(timeout=30) as http:
        request = asyncio.create_task(
            http.post(idle_service.base_url + "/chat/completions", json={**long_generation(), "stream": False})
        )
        await idle_service.wait_until(lambda h: h["busy"])
        request.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await request
    after = await idle_service.wait_idle(timeout=2)
    assert after["cancelled"] == before["cancelled"] + 1


async def test_queued_request_whose_client_leaves_is_dropped(idle_service):
    before = await idle_service.health()
    async with open_stream(idle_service, long_generation()) as running:
        await next_data(running)
        async with open_stream(idle_service, chat(stream=True)):
            await idle_service.wait_until(lambda h: h["queued"] == 1)
        after = await idle_service.wait_until(lambda h: h["queued"] == 0, timeout=2)
        assert after["busy"] and after["dropped"] == before["dropped"] + 1
        # The running generation is unaffected.
        assert (await next_data(running))["choices"][0]["delta"]["content"]


def text_image(text: str) -> tuple[bytes, tuple[int, int]]:
    """Big black text on white, sized to fit the text with a margin; PNG bytes and size."""
    font = None
    # Regular weights: RapidOCR reads DejaVu Sans Bold's "O" as "0".
    for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf"):
        with contextlib.suppress(OSError):
            font = ImageFont.truetype(name, 56)
            break
    font = font or ImageFont.load_default(size=56)
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), text, font=font)
    size = (right - left + 80, bottom - top + 80)
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text((40 - left, 40 - top), text, fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), size


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


async def test_image_parts_become_ocr_text_in_prompt(idle_service):
    png, (width, height) = text_image("ERROR 504: upstream timeout")
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What went wrong in this screenshot?"},
            {"type": "image_url", "image_url": {"url": data_uri(png)}},
        ],
    }
    async with httpx.AsyncClient(timeout=60) as http:
        response = await http.post(
            idle_service.base_url + "/chat/completions", json=chat(messages=[message], max_tokens=4)
        )
        assert response.status_code == 200, response.text
        prompt = (await http.get(idle_service.url + "/debug/last-prompt")).json()["prompt"]
    header = f"[Image 1: PNG, {width}×{height} px. Text found in the image (OCR):\n"
    assert f"What went wrong in this screenshot?\n{header}" in prompt
    block = prompt[prompt.index("[Image 1:") :]
    block = block[: block.index("\n]")]
    squeezed = "".join(block.split()).lower()
    assert "error504" in squeezed and "upstreamtimeout" in squeezed, block


async def test_plain_string_content_reaches_the_prompt_unchanged(idle_service):
    async with httpx.AsyncClient(timeout=30) as http:
        await http.post(
            idle_service.base_url + "/chat/completions",
            json=chat(
                messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
                max_tokens=2,
            ),
        )
        prompt = (await http.get(idle_service.url + "/debug/last-prompt")).json()["prompt"]
    assert (
        prompt
        == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    )


async def test_http_image_urls_are_refused(idle_service):
    for url in ("http://169.254.169.254/latest/meta-data", "https://example.com/cat.png"):
        message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        async with httpx.AsyncClient() as http:
            response = await http.post(idle_service.base_url + "/chat/completions", json=chat(messages=[message]))
        assert response.status_code == 400
        error = response.json()["error"]
        assert "data: URI" in error["message"] and error["param"] == "messages[0].content[0].image_url"


async def test_undecodable_image_is_400(idle_service):
    for url in ("data:image/png;base64,not-base64!!", data_uri(b"\x89PNG\r\n\x1a\n but not really a PNG")):
        message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
        async with httpx.AsyncClient() as http:
            response = await http.post(idle_service.base_url + "/chat/completions", json=chat(messages=[message]))
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == "messages[0].content[0].image_url"
