"""Searching the published entries: the entry point of every knowledge-base answer.

`search(question, context=..., visible=...)` ranks the published entries
(`index.py`) and decides whether they answer them (`decision.py`). `visible`
narrows the search to the entries a person may see before anything is decided:
an entry they may not see is never an answer, a listed entry, nor the reason a
question counts as covered.

Each process keeps an index in memory, rebuilt when the published entries'
fingerprint changes. The lexical part takes milliseconds and is built where it
is needed; the embeddings of every entry are computed once per change, by the
`rebuild_index` task (`tasks.py`, queued when an entry is saved or deleted),
and kept in Redis for every process. Until they are ready, the previous index
keeps serving (restricted to the entries still published), or, on a first
start, a lexical one. An embeddings endpoint that fails is retried later by the
task, never remembered until the next edit.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import time
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import redis
from django.conf import settings

from chatapp.documents.models import Document as SourceDocument
from chatapp.documents.models import Passage
from chatapp.faq.decision import Decision, calibrate, decide
from chatapp.faq.index import DenseVectors, Document, Hit, SearchIndex, near_exact  # noqa: F401 (the package's search API)
from chatapp.faq.models import FAQEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

log = logging.getLogger(__name__)

# Under CHANNEL_PREFIX, like every key the app writes in Redis.
VECTORS_KEY = "{prefix}:faq:index-vectors:{digest}"
BUILD_KEY = "{prefix}:faq:index-build:{digest}"
# Built vectors are kept this long after their last use (a week).
VECTORS_TTL = 7 * 24 * 3600
REBUILD_TASK = "chatapp.faq.tasks.rebuild_index"
REBUILD_TASK = "chatapp.faq.tasks.rebuild_index"
# A process waiting for vectors looks in Redis at most this often.
POLL_SECONDS = 1.0

# (count, latest change, sum of ids) of the published entries and of the usable documents, and the embeddings'
# configuration: what the index was built from.
Fingerprint = tuple[tuple[int, datetime | None, int | None], tuple[int, datetime | None, int | None], tuple[str, ...]]


def embeddings_configuration() -> tuple[str, ...]:
    return (
        settings.FAQ_EMBEDDINGS_URL,
        settings.FAQ_EMBEDDINGS_MODEL,
        settings.FAQ_EMBEDDINGS_QUERY_PREFIX,
        settings.FAQ_EMBEDDINGS_PASSAGE_PREFIX,
    )


def digest_of(fingerprint: Fingerprint) -> str:
    return hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:32]


def current_fingerprint() -> Fingerprint:
    return (
        FAQEntry.objects.published().fingerprint(),
        # Ready, published documents only: a document being processed saves its progress often.
        SourceDocument.objects.published().ready().fingerprint(),
        embeddings_configuration(),
    )


def published_documents() -> list[Document]:
    """Every source answers may use: the published entries, then the passages of published, ready documents."""
    entries = [Document.from_entry(entry) for entry in FAQEntry.objects.published().order_by("id")]
    passages = Passage.objects.usable().select_related("document").order_by("document_id", "position")
    return entries + [Document.from_passage(passage) for passage in passages.iterator(chunk_size=2000)]


def store() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


def save_vectors(digest: str, vectors: DenseVectors) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, unit=vectors.unit, owner=vectors.owner, line=vectors.line)
    store().set(VECTORS_KEY.format(prefix=settings.CHANNEL_PREFIX, digest=digest), buffer.getvalue(), ex=VECTORS_TTL)


def load_vectors(digest: str) -> DenseVectors | None:
    try:
        data = store().getex(VECTORS_KEY.format(prefix=settings.CHANNEL_PREFIX, digest=digest), ex=VECTORS_TTL)
    except redis.RedisError as error:
        log.warning("FAQ index vectors unavailable: %s", error)
        return None
    if not data:
        return None
    arrays = np.load(io.BytesIO(bytes(data)))  # type: ignore[arg-type]  # redis-py types values as bytes | str
    return DenseVectors(arrays["unit"], arrays["owner"], arrays["line"])


def build_index() -> SearchIndex:
    """The published entries' index with embeddings, computed and stored for every process (the task's work).

    Raises EmbeddingsUnavailable when the endpoint fails, for the task to retry later.
    """
    from chatapp.faq.embeddings import EmbeddingsUnavailable, configured_embedder

    fingerprint = current_fingerprint()
    embedder = configured_embedder()
    index = SearchIndex(published_documents(), embedder=embedder)
    if embedder is not None and index.documents and index.vectors is None:
        raise EmbeddingsUnavailable(index.embeddings_error)
    if index.vectors is not None:
        save_vectors(digest_of(fingerprint), index.vectors)
    index.calibration = calibrate(index)
    return index


def request_build(digest: str) -> None:
    """Queue one `rebuild_index` for this state of the entries (not one per process or question)."""
    from celery import current_app

    try:
        if store().set(
            BUILD_KEY.format(prefix=settings.CHANNEL_PREFIX, digest=digest),
            1,
            nx=True,
            ex=int(settings.FAQ_EMBEDDINGS_RETRY_SECONDS),
        ):
            # By name: the task's module imports this one, never the other way round.
            current_app.send_task(REBUILD_TASK)
    except redis.RedisError as error:
        log.warning("FAQ index build not queued: %s", error)


def queue_rebuild() -> None:
    """After a change to the entries: their embeddings, computed in a task (nothing to do without embeddings)."""
    from chatapp.faq.embeddings import configured_embedder

    if configured_embedder() is not None:
        request_build(digest_of(current_fingerprint()))


class CurrentIndex:
    """The index of the published entries, as fresh as the embeddings allow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fingerprint: Fingerprint | None = None
        self._index: SearchIndex | None = None
        # Whether the index is complete for its fingerprint (False: waiting for its vectors).
        self._complete = False
        self._next_poll = 0.0

    def get(self) -> SearchIndex:
        return self.current()[0]

    def current(self) -> tuple[SearchIndex, bool]:
        """The index, and whether it may hold entries no longer published (an older one still serving)."""
        fingerprint = current_fingerprint()
        with self._lock:
            fresh = fingerprint == self._fingerprint
            if self._index is not None and fresh and (self._complete or time.monotonic() < self._next_poll):
                return self._index, False
            from chatapp.faq.embeddings import configured_embedder

            embedder = configured_embedder()
            if embedder is None:
                self._install(SearchIndex(published_documents()), fingerprint, complete=True)
                return self._index, False  # type: ignore[return-value]
            digest = digest_of(fingerprint)
            vectors = load_vectors(digest)
            if vectors is not None:
                self._install(SearchIndex(published_documents(), embedder=embedder, vectors=vectors), fingerprint, True)
                return self._index, False  # type: ignore[return-value]
            request_build(digest)
            self._next_poll = time.monotonic() + POLL_SECONDS
            if self._index is not None and not fresh and self._index.vectors is not None:
                # The previous index serves until the new one is ready.
                return self._index, True
            if not fresh or self._index is None:
                self._install(SearchIndex(published_documents()), fingerprint, complete=False)
            return self._index, False  # type: ignore[return-value]

    def _install(self, index: SearchIndex, fingerprint: Fingerprint, complete: bool) -> None:
        index.calibration = calibrate(index)
        self._index, self._fingerprint, self._complete = index, fingerprint, complete

    def clear(self) -> None:
        with self._lock:
            self._index = self._fingerprint = None
            self._complete = False


current_index = CurrentIndex()


def search(
    question: str, k: int | None = None, context: Iterable[str] = (), visible: Collection[int] | None = None
) -> Decision:
    """The published entries for `question` and whether they answer it.

    `context`: the conversation's earlier questions, oldest first (a follow-up
    is searched with them). `visible`: ids of the entries the asker may see,
    None for all published entries.
    """
    index, stale = current_index.current()
    if stale:
        # An older index may still hold sources withdrawn since: only the published ones count.
        published = set(FAQEntry.objects.published().values_list("id", flat=True))
        published |= {-pk for pk in Passage.objects.usable().values_list("id", flat=True)}
        visible = published if visible is None else published & set(visible)
    return decide(index, question, context=context, visible=visible, k=k or settings.FAQ_TOP_K)


def visible_entry_ids(user: User | AnonymousUser) -> set[int] | None:
    """Ids of the sources `user` may see (entries' ids, passages' ids negated); None: all of them.

    Where entries or documents are scoped to groups, this is the one place that
    says which a person may see; `search(..., visible=...)` applies it before deciding.
    """
    if user.is_authenticated and user.is_superuser:
        return None
    scoped_entries = FAQEntry.groups.through.objects.exists()
    scoped_documents = SourceDocument.groups.through.objects.exists()
    if user.is_authenticated and user.is_active and not scoped_entries and not scoped_documents:
        return None
    visible = set(FAQEntry.objects.published().visible_to(user).values_list("id", flat=True))
    if user.is_authenticated and user.is_active and not scoped_documents:
        return visible | {-pk for pk in Passage.objects.usable().values_list("id", flat=True)}
    return visible | {-pk for pk in Passage.objects.visible_to(user).values_list("id", flat=True)}
