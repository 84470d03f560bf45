"""Finding the published entries that answer a question.

Two BM25 indexes (bm25s) over each entry's question, other phrasings, tags and
answer: one of words, one of character trigrams (typos, word forms). Entries
are ranked by a blend of both. Whether the knowledge base covers a question at
all is decided on the word index alone, with a score scaled so that 1.0 is one
word found in a single entry: a question is covered when its best entry
scores at least FAQ_MIN_SCORE. When FAQ_EMBEDDINGS_URL is set, the ranking
also blends in the cosine similarity of embeddings (see `embeddings.py`).

Each process keeps its index in memory and rebuilds it when the published
entries' fingerprint changes, so an edit in the admin is seen by every worker
on its next question.
"""

import difflib
import logging
import math
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import bm25s
import numpy as np
from django.conf import settings

from chatapp.faq.analysis import default_analyzer, words
from chatapp.faq.models import FAQEntry

# bm25s sets its own logger to DEBUG on import: one line per index build otherwise.
logging.getLogger("bm25s").setLevel(logging.WARNING)

# Title fields count more than the answer's body: they say what the entry is about.
TITLE_WEIGHT = 2
# Share of the trigram index in the ranking (measured with faq_eval: see the README).
NGRAM_WEIGHT = 0.3
# A question word missing from the index is read as its closest indexed word
# when they are this similar (difflib ratio): "acess" → "access".
TYPO_SIMILARITY = 0.85
MIN_TYPO_LENGTH = 4


@dataclass
class Document:
    """What the index needs of an entry, detached from the database."""

    id: int
    key: str
    question: str
    answer: str
    phrasings: list = field(default_factory=list)
    tags: list = field(default_factory=list)

    @classmethod
    def from_entry(cls, entry):
        return cls(entry.pk, entry.key, entry.question, entry.answer, entry.phrasing_list, entry.tag_list)

    @property
    def title_text(self):
        return " ".join([self.question, *self.phrasings, *self.tags])

    @property
    def embedding_text(self):
        return "\n".join([self.question, *self.phrasings, self.answer])


@dataclass
class Hit:
    document: Document
    # Word-index score, scaled (1.0 ≈ one word found in a single entry): decides coverage.
    score: float
    # Blend used for ranking, 0..1 relative to the best entry.
    rank_score: float
    similarity: float | None = None

    @property
    def key(self):
        return self.document.key


@dataclass
class SearchResult:
    question: str
    hits: list
    min_score: float
    # The best word-index score over all entries, ranked first or not.
    best_score: float = 0.0

    @property
    def best(self):
        return self.hits[0] if self.hits else None

    @property
    def covered(self):
        return bool(self.hits) and self.best_score >= self.min_score

    @property
    def keys(self):
        return [hit.key for hit in self.hits]


def near_exact(question, document, threshold):
    """Whether `question` is, give or take a few characters, the entry's question or a phrasing."""
    asked = " ".join(words(question))
    if not asked:
        return False
    return any(
        difflib.SequenceMatcher(None, asked, " ".join(words(text))).ratio() >= threshold
        for text in [document.question, *document.phrasings]
    )


class SearchIndex:
    def __init__(self, documents, analyzer=None, embedder=None):
        self.documents = list(documents)
        self.analyzer = analyzer or default_analyzer()
        self.embedder = embedder
        word_docs = [
            self.analyzer.terms(document.title_text) * TITLE_WEIGHT + self.analyzer.terms(document.answer)
            for document in self.documents
        ]
        self.words = self._bm25(word_docs)
        self.ngrams = self._bm25([self.analyzer.ngrams(terms) for terms in word_docs])
        # Indexed words by trigram: typo candidates are the words sharing pieces with the typo.
        self.words_by_ngram = defaultdict(set)
        for term in {term for terms in word_docs for term in terms if len(term) >= MIN_TYPO_LENGTH - 1}:
            for gram in self.analyzer.ngrams([term]):
                self.words_by_ngram[gram].add(term)
        # BM25's idf of a word found in exactly one entry: the unit of `Hit.score`.
        count = len(self.documents)
        self.unit = math.log(1 + (count - 0.5) / 1.5) if count else 1.0
        self.vectors = embedder.embed_documents(self.documents) if embedder and self.documents else None

    @staticmethod
    def _bm25(corpus):
        model = bm25s.BM25()
        if corpus:
            model.index(corpus, show_progress=False)
        return model

    def _scores(self, model, terms):
        known = [term for term in terms if term in model.vocab_dict]
        if not known:
            return np.zeros(len(self.documents), dtype="float32")
        return model.get_scores(known)

    def correct(self, terms):
        """Read each unknown word as its closest indexed word, when one is close enough."""
        known = self.words.vocab_dict
        corrected = []
        for term in terms:
            if term not in known and len(term) >= MIN_TYPO_LENGTH:
                shared = Counter(word for gram in self.analyzer.ngrams([term]) for word in self.words_by_ngram.get(gram, ()))
                candidates = [word for word, count in shared.items() if count >= 2]
                match = difflib.get_close_matches(term, candidates, n=1, cutoff=TYPO_SIMILARITY)
                term = match[0] if match else term
            corrected.append(term)
        return corrected

    def search(self, question, k=3, min_score=None):
        min_score = settings.FAQ_MIN_SCORE if min_score is None else min_score
        if not self.documents:
            return SearchResult(question, [], min_score)
        terms = self.correct(self.analyzer.terms(question, expand=True))
        word_scores = self._scores(self.words, terms)
        ngram_scores = self._scores(self.ngrams, self.analyzer.ngrams(terms))
        blend = (1 - NGRAM_WEIGHT) * relative(word_scores) + NGRAM_WEIGHT * relative(ngram_scores)
        similarities = None
        if self.vectors is not None:
            similarities = self.embedder.similarities(question, self.vectors)
            if similarities is not None:
                weight = settings.FAQ_EMBEDDINGS_WEIGHT
                blend = (1 - weight) * blend + weight * relative(np.clip(similarities, 0, None))
        order = np.argsort(-blend, kind="stable")[:k]
        hits = [
            Hit(
                self.documents[index],
                score=round(float(word_scores[index]) / self.unit, 3),
                rank_score=round(float(blend[index]), 3),
                similarity=None if similarities is None else round(float(similarities[index]), 3),
            )
            for index in order
            if blend[index] > 0
        ]
        return SearchResult(question, hits, min_score, round(float(word_scores.max()) / self.unit, 3))


def relative(scores):
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores


class CurrentIndex:
    """The index of the published entries, rebuilt when they change."""

    def __init__(self):
        self._lock = threading.Lock()
        self._fingerprint = None
        self._index = None

    def get(self):
        fingerprint = (FAQEntry.objects.published().fingerprint(), embeddings_configuration())
        with self._lock:
            if self._index is None or fingerprint != self._fingerprint:
                from chatapp.faq.embeddings import configured_embedder

                entries = FAQEntry.objects.published().order_by("id")
                self._index = SearchIndex([Document.from_entry(entry) for entry in entries], embedder=configured_embedder())
                self._fingerprint = fingerprint
            return self._index

    def clear(self):
        with self._lock:
            self._index = self._fingerprint = None


def embeddings_configuration():
    return (settings.FAQ_EMBEDDINGS_URL, settings.FAQ_EMBEDDINGS_MODEL)


current_index = CurrentIndex()


def search(question, k=None, min_score=None):
    return current_index.get().search(question, k=k or settings.FAQ_TOP_K, min_score=min_score)
