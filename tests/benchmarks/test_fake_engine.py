"""What the benchmarks read from the fake engine besides its answers: the streams it held at once, the Markdown it can write."""

import contextlib

import httpx
import pytest

from benchmarks.fake_engine import EngineProcess


@pytest.fixture(scope="module")
def engine():
    """An engine of its own: no other test's stream is open in it."""
    with EngineProcess() as engine:
        yield engine


def ask(question: str, stream: bool) -> dict:
    return {"model": "any", "messages": [{"role": "user", "content": question}], "max_tokens": 64, "stream": stream}


def test_the_most_streams_open_at_once_is_counted_after_they_close(engine):
    engine.reset()
    with httpx.Client(base_url=engine.base_url, timeout=30) as client, contextlib.ExitStack() as open_streams:
        lines = []  # each stream's reader, kept: a reader dropped closes its stream
        for _ in range(3):
            response = open_streams.enter_context(
                client.stream("POST", "/chat/completions", json=ask("tokens=3 rate=0.5", stream=True))
            )
            lines.append(response.iter_lines())
            next(lines[-1])  # the first token: this stream is open
        assert engine.streams() == {"open": 3, "most": 3}
    with httpx.Client(base_url=engine.base_url, timeout=30) as client:
        with client.stream("POST", "/chat/completions", json=ask("tokens=3 rate=100", stream=True)) as response:
            response.read()
    assert engine.streams()["most"] == 3


def test_markdown_1_answers_dense_markdown_of_the_asked_length(engine):
    response = httpx.post(engine.base_url + "/chat/completions", json=ask("tokens=10 markdown=1", stream=False))
    answer = response.json()["choices"][0]
    assert answer["message"]["content"] == "Streaming **text** with `code` and plain words \n\n Streaming **text** "
    assert answer["finish_reason"] == "stop"
