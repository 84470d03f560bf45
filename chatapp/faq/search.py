"""Searching the published entries: the entry point of every knowledge-base answer.

`search(question, context=..., visible=...)` ranks the published entries
(`index.py`) and decides whether they answer the question (`decision.py`).
`visible` narrows the search to the entries a person may see before anything
is decided: an entry they may not see is never an answer, a listed entry, nor
the reason a question counts as covered.

Each process keeps its index, with its calibration, in memory and rebuilds
both when the published entries' fingerprint changes, so an edit in the admin
is seen by every worker on its next question; a save or delete in this process
drops them at once (`apps.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings

from chatapp.faq.decision import Decision, calibrate, decide
from chatapp.faq.index import Document, Hit, SearchIndex, near_exact  # noqa: F401 (the package's search API)
from chatapp.faq.models import FAQEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


class CurrentIndex:
    """The index of the published entries, rebuilt (and recalibrated) when they change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fingerprint: Any = None
        self._index: SearchIndex | None = None

    def get(self) -> SearchIndex:
        fingerprint = (FAQEntry.objects.published().fingerprint(), embeddings_configuration())
        with self._lock:
            if self._index is None or fingerprint != self._fingerprint:
                from chatapp.faq.embeddings import configured_embedder

                entries = FAQEntry.objects.published().order_by("id")
                index = SearchIndex([Document.from_entry(entry) for entry in entries], embedder=configured_embedder())
                # Calibrated here, under the lock: one calibration per change, not one per waiting thread.
                index.calibration = calibrate(index)
                self._index, self._fingerprint = index, fingerprint
            return self._index

    def clear(self) -> None:
        with self._lock:
            self._index = self._fingerprint = None


def embeddings_configuration() -> tuple[str, str]:
    return (settings.FAQ_EMBEDDINGS_URL, settings.FAQ_EMBEDDINGS_MODEL)


current_index = CurrentIndex()


def search(
    question: str, k: int | None = None, context: Iterable[str] = (), visible: Collection[int] | None = None
) -> Decision:
    """The published entries for `question` and whether they answer it.

    `context`: the conversation's earlier questions, oldest first (a follow-up
    is searched with them). `visible`: ids of the entries the asker may see,
    None for all published entries.
    """
    return decide(
        current_index.get(),
        question,
        context=context,
        visible=visible,
        k=k or settings.FAQ_TOP_K,
        near_exact=settings.FAQ_NEAR_EXACT,
    )


def visible_entry_ids(user: User | AnonymousUser) -> set | None:
    """Ids of the published entries `user` may see; None: all of them.

    Where entries are scoped to groups, this is the one place that says which
    a person may see; `search(..., visible=...)` applies it before deciding.
    """
    if user.is_authenticated and user.is_superuser:
        return None
    if user.is_authenticated and user.is_active and not FAQEntry.groups.through.objects.exists():
        return None
    return set(FAQEntry.objects.published().visible_to(user).values_list("id", flat=True))
