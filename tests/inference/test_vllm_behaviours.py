"""The client against what vLLM does that the CPU service does not (the fake engine stands in for the GPU)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from benchmarks.fake_engine import answer_text
from inference.client import (
    InferenceError,
    InferenceUnavailable,
    StreamEvent,
    count_prompt_tokens,
    embeddings,
    stream_chat_completion,
)


async def collect(engine, question: str, **options) -> list[StreamEvent]:
    arguments: dict = dict(
        api_key="",
        model=engine.model,
        messages=[{"role": "user", "content": question}],
        max_tokens=64,
        temperature=0.05,
    )
    arguments.update(options)
    async with httpx.AsyncClient() as http:
        return [event async for event in stream_chat_completion(http, base_url=engine.base_url, **arguments)]


@pytest.fixture
def engine(fake_engine_process):
    fake_engine_process.reset()
    return fake_engine_process


async def test_the_role_only_first_chunk_is_no_text_and_the_usage_chunk_is_read(engine):
    events = await collect(engine, "seed=3 tokens=12 rate=500")
    assert "".join(event.delta for event in events) == answer_text(3, 12)
    assert all(event.delta for event in events[:-2])
    assert [event.finish_reason for event in events if event.finish_reason] == ["stop"]
    assert events[-1].usage["completion_tokens"] == 12


async def test_an_answer_at_max_tokens_ends_with_finish_reason_length(engine):
    events = await collect(engine, "seed=3 tokens=40 rate=500", max_tokens=10)
    assert "".join(event.delta for event in events) == answer_text(3, 10)
    assert [event.finish_reason for event in events if event.finish_reason] == ["length"]


async def test_an_error_event_mid_stream_fails_the_answer_after_its_text(engine):
    received = []
    with pytest.raises(InferenceError) as caught:
        async with httpx.AsyncClient() as http:
            async for event in stream_chat_completion(
                http,
                base_url=engine.base_url,
                api_key="",
                model=engine.model,
                messages=[{"role": "user", "content": "seed=4 tokens=30 rate=500 fail_after=5"}],
                max_tokens=64,
                temperature=0.05,
            ):
                received.append(event.delta)
    assert "".join(received) == answer_text(4, 5)
    assert "mid-answer" in caught.value.reason and "illegal memory access" in caught.value.reason
    assert not isinstance(caught.value, InferenceUnavailable)


async def test_a_prompt_over_the_context_is_a_400_the_caller_can_recognise_and_size(engine):
    engine.configure(max_model_len=300)
    with pytest.raises(InferenceError) as caught:
        await collect(engine, "x" * 1000, max_tokens=100)
    error = caught.value
    assert error.status_code == 400 and error.context_too_long
    assert error.counted_prompt_tokens == 4 + 500
    assert "maximum context length is 300 tokens" in error.reason


async def test_a_loading_engine_is_unavailable_not_failed(engine):
    engine.configure(loading=True)
    with pytest.raises(InferenceUnavailable) as caught:
        await collect(engine, "hello")
    assert caught.value.status_code == 503 and not caught.value.timed_out


async def test_a_model_the_engine_does_not_serve_yet_is_unavailable(engine):
    with pytest.raises(InferenceUnavailable) as caught:
        await collect(engine, "hello", model="mistralai/not-loaded")
    assert caught.value.status_code == 404
    assert "loading" in caught.value.reason


async def test_a_request_queued_in_the_engine_waits_past_the_chunk_silence_bound(engine):
    """vLLM sends nothing until a request is scheduled: that wait is the first-token timeout's, not the silence's."""
    engine.configure(max_num_seqs=1)
    engine.take_log()  # only this test's requests in it from here
    async with httpx.AsyncClient() as http:
        # 1.5 s of answer: far beyond the 0.5 s silence bound below.
        busy = asyncio.ensure_future(collect(engine, "seed=1 tokens=30 rate=20"))
        await asyncio.sleep(0.3)
        events = [
            event
            async for event in stream_chat_completion(
                http,
                base_url=engine.base_url,
                api_key="",
                model=engine.model,
                messages=[{"role": "user", "content": "seed=2 tokens=5 rate=500"}],
                max_tokens=64,
                temperature=0.05,
                read_timeout=0.5,
                first_token_timeout=10,
            )
        ]
        await busy
    assert "".join(event.delta for event in events) == answer_text(2, 5)
    log = engine.take_log()
    # It arrived while the busy answer was written and got its first token only after that answer's last.
    assert log["2"]["arrived"] < log["1"]["last"] <= log["2"]["first"]


async def test_without_a_first_token_in_time_the_answer_times_out_as_unavailable(engine):
    engine.configure(max_num_seqs=1)
    busy = asyncio.ensure_future(collect(engine, "seed=1 tokens=40 rate=20"))
    await asyncio.sleep(0.3)
    with pytest.raises(InferenceUnavailable) as caught:
        await collect(engine, "seed=2 tokens=5", read_timeout=0.2, first_token_timeout=0.6)
    busy.cancel()
    assert caught.value.timed_out and "did not start" in caught.value.reason


async def test_silence_between_chunks_is_bounded_apart_from_the_first_token(engine):
    with pytest.raises(InferenceError) as caught:
        # 2 tokens a second: half a second between chunks, over a 0.3 s silence bound.
        await collect(engine, "seed=5 tokens=10 rate=2", read_timeout=0.3, first_token_timeout=10)
    assert caught.value.timed_out and not isinstance(caught.value, InferenceUnavailable)


async def test_the_prompt_is_counted_by_the_engine_where_it_can(engine):
    messages = [{"role": "user", "content": "東京" * 10 + "abcd"}]
    async with httpx.AsyncClient() as http:
        counted = await count_prompt_tokens(http, base_url=engine.base_url, api_key="", model="m", messages=messages)
        engine.configure(tokenize=False)
        unavailable = await count_prompt_tokens(
            http, base_url=engine.base_url, api_key="", model="m", messages=messages
        )
    assert counted == 4 + 20 + 2
    assert unavailable is None


async def test_a_restart_mid_answer_keeps_the_text_and_says_the_connection_closed(engine):
    received = []
    with pytest.raises(InferenceError) as caught:
        async with httpx.AsyncClient() as http:
            async for event in stream_chat_completion(
                http,
                base_url=engine.base_url,
                api_key="",
                model=engine.model,
                messages=[{"role": "user", "content": "seed=6 tokens=200 rate=40"}],
                max_tokens=300,
                temperature=0.05,
            ):
                received.append(event.delta)
                if len(received) == 3:
                    await asyncio.to_thread(engine.restart, 0.5)
    assert "".join(received).startswith(answer_text(6, 3))
    assert not isinstance(caught.value, InferenceUnavailable)


async def test_embeddings_go_in_batches_an_embeddings_server_accepts():
    """Hugging Face TEI refuses more than 32 inputs a request by default (a transport double stands in for it)."""
    sizes = []

    def tei(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["input"]
        sizes.append(len(inputs))
        if len(inputs) > 32:
            return httpx.Response(413, json={"error": "batch size 40 > maximum allowed batch size 32"})
        data = [{"index": i, "embedding": [float(len(text))]} for i, text in enumerate(inputs)]
        return httpx.Response(200, json={"data": data})

    texts = [f"entry {'x' * n}" for n in range(70)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(tei)) as http:
        vectors = await embeddings(http, base_url="http://tei/v1", api_key="", model="e5", inputs=texts)
    assert sizes == [32, 32, 6]
    assert vectors == [[float(len(text))] for text in texts]
