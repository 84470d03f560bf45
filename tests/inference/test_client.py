"""The async client, against the real service and against servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest

from inference.client import (
    InferenceError,
    InferenceUnavailable,
    StreamEvent,
    embeddings,
    list_models,
    stream_chat_completion,
)
from tests.support.processes import free_port

MODEL = "SmolLM2-135M-Instruct"
HELLO = [{"role": "user", "content": "Say hello."}]


async def collect(base_url: str, **options) -> list[StreamEvent]:
    arguments = dict(api_key="", model=MODEL, messages=HELLO, max_tokens=16, temperature=0.2)
    arguments.update(options)
    async with httpx.AsyncClient() as http:
        return [event async for event in stream_chat_completion(http, base_url=base_url, **arguments)]


async def test_client_streams_text_then_finish_reason_then_usage(idle_service):
    events = await collect(idle_service.base_url, max_tokens=10, extra_body={"ignore_eos": True})
    text = "".join(e.delta for e in events)
    assert len(text.strip()) > 3
    finishes = [e for e in events if e.finish_reason]
    assert [e.finish_reason for e in finishes] == ["length"]
    assert events[-1].usage["completion_tokens"] == 10
    assert events.index(finishes[0]) < len(events) - 1


async def test_closed_port_is_unavailable():
    with pytest.raises(InferenceUnavailable) as caught:
        await collect(f"http://127.0.0.1:{free_port()}/v1")
    assert caught.value.reason == "The model service is unreachable."


async def test_full_queue_is_unavailable_and_says_busy(idle_service):
    async with contextlib.AsyncExitStack() as held:
        http = await held.enter_async_context(httpx.AsyncClient(timeout=30))
        for max_tokens in [1500] + [3] * idle_service.queue_size:
            body = {"model": MODEL, "messages": HELLO, "max_tokens": max_tokens, "ignore_eos": True, "stream": True}
            await held.enter_async_context(http.stream("POST", idle_service.base_url + "/chat/completions", json=body))
        await idle_service.wait_until(lambda h: h["queued"] == idle_service.queue_size)
        with pytest.raises(InferenceUnavailable) as caught:
            await collect(idle_service.base_url)
    assert "busy" in caught.value.reason
    assert caught.value.status_code == 503 and caught.value.retry_after >= 1


async def test_waiting_longer_than_the_first_token_timeout_is_unavailable(idle_service):
    async with httpx.AsyncClient(timeout=30) as http:
        body = {"model": MODEL, "messages": HELLO, "max_tokens": 1500, "ignore_eos": True, "stream": True}
        async with http.stream("POST", idle_service.base_url + "/chat/completions", json=body):
            await idle_service.wait_until(lambda h: h["busy"])
            with pytest.raises(InferenceUnavailable) as caught:
                await collect(idle_service.base_url, read_timeout=0.2, first_token_timeout=0.3)
    assert caught.value.reason == "The model service did not start the answer in time."


async def test_prompt_too_long_is_an_error_with_the_openai_code(idle_service):
    with pytest.raises(InferenceError) as caught:
        await collect(idle_service.base_url, messages=[{"role": "user", "content": "lorem ipsum " * 2000}])
    assert not isinstance(caught.value, InferenceUnavailable)
    assert caught.value.code == "context_length_exceeded" and caught.value.status_code == 400
    assert "maximum context length is 2048 tokens" in caught.value.reason


async def test_closing_the_stream_early_stops_generation_on_the_server(idle_service):
    before = await idle_service.health()
    async with httpx.AsyncClient() as http:
        events = stream_chat_completion(
            http,
            base_url=idle_service.base_url,
            api_key="",
            model=MODEL,
            messages=HELLO,
            max_tokens=1500,
            temperature=0.2,
            extra_body={"ignore_eos": True},
        )
        async for event in events:
            if event.delta:
                break
        await events.aclose()
        after = await idle_service.wait_idle(timeout=2)
    assert after["cancelled"] == before["cancelled"] + 1


async def test_list_models_returns_the_served_model(idle_service):
    async with httpx.AsyncClient() as http:
        models = await list_models(http, base_url=idle_service.base_url, api_key="")
    assert [m["id"] for m in models] == [MODEL]


async def test_embeddings_of_the_chat_model_are_a_404_error(idle_service):
    async with httpx.AsyncClient() as http:
        with pytest.raises(InferenceError) as caught:
            await embeddings(http, base_url=idle_service.base_url, api_key="", model=MODEL, inputs=["hi"])
    assert caught.value.status_code == 404


# --- faults the real service does not produce on demand ---------------------------------


def sse_chunk(delta: dict | None = None, finish_reason: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-fault",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish_reason}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


ROLE = sse_chunk({"role": "assistant", "content": ""})
STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def test_server_error_body_becomes_a_readable_error(fault_server):
    async def answer_500(request: bytes, writer: asyncio.StreamWriter) -> None:
        body = json.dumps(
            {"error": {"message": "CUDA out of memory", "type": "InternalServerError", "param": None, "code": 500}}
        ).encode()
        writer.write(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()

    with pytest.raises(InferenceError) as caught:
        await collect(await fault_server(answer_500))
    assert not isinstance(caught.value, InferenceUnavailable)
    assert caught.value.reason == "The model service failed: CUDA out of memory"
    assert caught.value.status_code == 500


async def test_connection_dropped_mid_stream_is_an_error_after_the_partial_text(fault_server):
    async def two_chunks_then_drop(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(STREAM_HEAD + http_chunk(ROLE) + http_chunk(sse_chunk({"content": "Hel"})))
        await writer.drain()
        writer.transport.abort()

    received = []
    with pytest.raises(InferenceError) as caught:
        async with httpx.AsyncClient() as http:
            async for event in stream_chat_completion(
                http,
                base_url=await fault_server(two_chunks_then_drop),
                api_key="",
                model=MODEL,
                messages=HELLO,
                max_tokens=16,
                temperature=0.2,
            ):
                received.append(event.delta)
    assert "".join(received) == "Hel"
    assert caught.value.reason == "The model service closed the connection mid-answer."


async def test_stream_ending_without_finish_reason_or_done_is_an_error(fault_server):
    async def end_early(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(STREAM_HEAD + http_chunk(ROLE) + http_chunk(sse_chunk({"content": "Hel"})) + b"0\r\n\r\n")
        await writer.drain()

    with pytest.raises(InferenceError) as caught:
        await collect(await fault_server(end_early))
    assert caught.value.reason == "The model service closed the connection mid-answer."


async def test_done_without_finish_reason_is_an_unfinished_answer(fault_server):
    # What llama.cpp's bundled server sends when another request interrupts a stream.
    async def done_early(request: bytes, writer: asyncio.StreamWriter) -> None:
        body = ROLE + sse_chunk({"content": "Hel"}) + b"data: [DONE]\n\n"
        writer.write(STREAM_HEAD + http_chunk(body) + b"0\r\n\r\n")
        await writer.drain()

    with pytest.raises(InferenceError) as caught:
        await collect(await fault_server(done_early))
    assert caught.value.reason == "The model service ended the answer without finishing it."


async def test_error_chunk_mid_stream_is_an_error_with_its_message(fault_server):
    async def error_chunk(request: bytes, writer: asyncio.StreamWriter) -> None:
        error = json.dumps(
            {"error": {"message": "The engine died", "type": "InternalServerError", "param": None, "code": 500}}
        )
        body = ROLE + sse_chunk({"content": "Hel"}) + f"data: {error}\n\n".encode() + b"data: [DONE]\n\n"
        writer.write(STREAM_HEAD + http_chunk(body) + b"0\r\n\r\n")
        await writer.drain()

    with pytest.raises(InferenceError) as caught:
        await collect(await fault_server(error_chunk))
    assert caught.value.reason == "The model service failed mid-answer: The engine died"


async def test_silence_between_chunks_is_a_stopped_responding_error(fault_server):
    async def stall(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(STREAM_HEAD + http_chunk(ROLE + sse_chunk({"content": "Hel"})))
        await writer.drain()
        await asyncio.sleep(5)

    with pytest.raises(InferenceError) as caught:
        await collect(await fault_server(stall), read_timeout=0.3)
    assert not isinstance(caught.value, InferenceUnavailable)
    # Not "closed mid-answer": the read timeout ended it, before the stall did.
    assert caught.value.reason == "The model service stopped responding."


async def test_bearer_key_is_sent_when_configured(fault_server):
    seen = []

    async def record(request: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(request.decode("latin-1"))
        body = ROLE + sse_chunk({"content": "Hi"}) + sse_chunk(finish_reason="stop") + b"data: [DONE]\n\n"
        writer.write(STREAM_HEAD + http_chunk(body) + b"0\r\n\r\n")
        await writer.drain()

    events = await collect(await fault_server(record), api_key="sk-test", stop=["\n\n"])
    assert [e.finish_reason for e in events if e.finish_reason] == ["stop"]
    head, _, body = seen[0].partition("\r\n\r\n")
    assert "POST /v1/chat/completions " in head
    assert "authorization: bearer sk-test" in head.lower()
    sent = json.loads(body)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["stop"] == ["\n\n"] and sent["model"] == MODEL


@pytest.mark.parametrize(
    "event",
    [
        {"choices": [{"index": 0, "delta": {"content": 7}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": ["Hel"], "finish_reason": None}]},
        {"choices": {"index": 0}},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": 1}]},
        {"choices": [], "usage": [10, 2]},
    ],
    ids=["content-a-number", "delta-a-list", "choices-not-a-list", "finish-reason-a-number", "usage-a-list"],
)
async def test_a_malformed_event_ends_the_answer_with_an_error_after_the_text_before_it(fault_server, event):
    async def malformed(request: bytes, writer: asyncio.StreamWriter) -> None:
        body = ROLE + sse_chunk({"content": "Hel"}) + f"data: {json.dumps(event)}\n\n".encode()
        body += sse_chunk({"content": "lo"}, "stop") + b"data: [DONE]\n\n"
        writer.write(STREAM_HEAD + http_chunk(body) + b"0\r\n\r\n")
        await writer.drain()

    received = []
    with pytest.raises(InferenceError) as caught:
        async with httpx.AsyncClient() as http:
            async for streamed in stream_chat_completion(
                http,
                base_url=await fault_server(malformed),
                api_key="",
                model=MODEL,
                messages=HELLO,
                max_tokens=16,
                temperature=0.2,
            ):
                received.append(streamed.delta)
    assert "".join(received) == "Hel"
    assert not isinstance(caught.value, InferenceUnavailable)
    assert caught.value.reason == "The model service sent a malformed event."
