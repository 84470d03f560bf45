"""Optional embeddings for hybrid ranking, from an OpenAI-compatible `/v1/embeddings`.

Off unless FAQ_EMBEDDINGS_URL is set: the CPU model service has no embeddings
endpoint, and lexical search alone meets the evaluation targets. When the
endpoint fails, search goes on lexically rather than failing the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx
import numpy as np
from asgiref.sync import async_to_sync
from django.conf import settings

from inference.client import InferenceError, embeddings

if TYPE_CHECKING:
    from chatapp.faq.index import Document

log = logging.getLogger(__name__)


class Embedder:
    def __init__(self, base_url: str, model: str, api_key: str = "") -> None:
        self.base_url = base_url
        self.model = model
        self.api_key = api_key

    def embed(self, texts: list[str]) -> np.ndarray:
        async def request() -> list[list[float]]:
            async with httpx.AsyncClient() as client:
                return await embeddings(
                    client, base_url=self.base_url, api_key=self.api_key, model=self.model, inputs=texts
                )

        vectors = np.asarray(async_to_sync(request)(), dtype="float32")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms > 0, norms, 1)

    def embed_documents(self, documents: Iterable[Document]) -> np.ndarray | None:
        try:
            return self.embed([document.embedding_text for document in documents])
        except InferenceError as error:
            log.warning("FAQ embeddings unavailable, ranking lexically: %s", error.reason)
            return None

    def similarities(self, question: str, vectors: np.ndarray) -> np.ndarray | None:
        """Cosine similarity of `question` to each entry, or None when the endpoint fails."""
        try:
            (query,) = self.embed([question])
        except InferenceError as error:
            log.warning("FAQ embeddings unavailable, ranking lexically: %s", error.reason)
            return None
        return vectors @ query


def configured_embedder() -> Embedder | None:
    if not settings.FAQ_EMBEDDINGS_URL:
        return None
    return Embedder(
        settings.FAQ_EMBEDDINGS_URL,
        settings.FAQ_EMBEDDINGS_MODEL,
        settings.FAQ_EMBEDDINGS_API_KEY,
    )
