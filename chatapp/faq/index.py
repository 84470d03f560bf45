"""The search index of a set of knowledge-base entries, and what a search measures.

Two BM25 indexes (bm25s) over each entry's question, other phrasings, tags and
answer: one of words, one of character trigrams (typos, word forms). Entries
are ranked by a blend of both, and by the cosine similarity of embeddings when
an embedder is given. A search returns the ranking together with what the
coverage decision (`decision.py`) reads: the raw scores, which of the
question's words each entry contains, and how close the question is to each
entry's own phrasings.

Plain data in, plain data out: no database, no settings. `SearchIndex` is built
from `Document`s, so the evaluation and the calibration can index any set of
entries (another knowledge base, an entry left out) the same way.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import bm25s
import numpy as np

from chatapp.faq.analysis import Analyzer, default_analyzer, stem, words

if TYPE_CHECKING:
    from chatapp.documents.models import Passage
    from chatapp.faq.models import FAQEntry

# bm25s sets its own logger to DEBUG on import: one line per index build otherwise.
logging.getLogger("bm25s").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

# Title fields count more than the answer's body: they say what the entry is about.
TITLE_WEIGHT = 2
# Share of the trigram index in the ranking (measured with faq_eval: see the README).
NGRAM_WEIGHT = 0.3
# A question word missing from the index is read as its closest indexed word
# when they are this similar (difflib ratio): "acess" → "access".
TYPO_SIMILARITY = 0.85
MIN_TYPO_LENGTH = 4
# A follow-up ("and for staging?") is searched with the previous questions too:
# entries matching the follow-up's own words are lifted by up to this factor
# when they also match the context, and its words count this much in coverage.
CONTEXT_BOOST = 1.0
CONTEXT_WEIGHT = 0.5
# What the context alone adds, for follow-ups whose own words match nothing ("how long does it take?").
CONTEXT_ALONE = 0.2
# Share of the dense similarity in the fused ranking. Measured on the three development sets
# (recall@1 sample / lab / clinic): lexical alone 0.927 / 0.852 / 0.716, reciprocal rank fusion
# (k 2 to 60) 0.89-0.90 / 0.85-0.86 / 0.73-0.74, linear at 0.5 0.967 / 0.922 / 0.768.
DENSE_WEIGHT = 0.5


def with_stems(terms: Iterable[str]) -> list[str]:
    """The terms, then the English stems that differ from them: "bikes" also searches "bike"."""
    terms = list(terms)
    return terms + [stemmed for term in terms if (stemmed := stem(term)) != term]


class SourceKind(StrEnum):
    """What a source of an answer is: a curated entry, or a passage of a document."""

    ENTRY = "entry"
    PASSAGE = "passage"


@dataclass
class Document:
    """What the index needs of a source (an entry or a passage), detached from the database.

    A passage's `question` is its document's title and heading path, its
    `answer` its text; its `id` is the passage's primary key negated, so that
    entries and passages share one space of ids (`visible`).
    """

    id: int
    key: str
    question: str
    answer: str
    phrasings: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    kind: SourceKind = SourceKind.ENTRY
    # Passages only: the document's title and file name, the heading path, the page and the link.
    title: str = ""
    file_name: str = ""
    section: str = ""
    page: int | None = None
    url: str = ""
    label: str = ""

    @classmethod
    def from_entry(cls, entry: FAQEntry) -> Document:
        return cls(entry.pk, entry.key, entry.question, entry.answer, entry.phrasing_list, entry.tag_list)

    @classmethod
    def from_passage(cls, passage: Passage) -> Document:
        return cls.passage(
            -passage.pk,
            str(passage.document),
            passage.document.original_name,
            passage.heading_path,
            passage.page,
            passage.text,
            url=passage.get_absolute_url(),
            label=passage.citation_label,
        )

    @classmethod
    def passage(
        cls,
        id: int,
        title: str,
        file_name: str,
        section: str,
        page: int | None,
        text: str,
        url: str = "",
        label: str = "",
    ) -> Document:
        heading = " › ".join(part for part in [title, section] if part)
        return cls(
            id,
            f"{file_name}#{id}",
            heading,
            text,
            kind=SourceKind.PASSAGE,
            title=title,
            file_name=file_name,
            section=section,
            page=page,
            url=url,
            label=label or heading + (f" (p. {page})" if page is not None else ""),
        )

    @property
    def is_passage(self) -> bool:
        return self.kind == SourceKind.PASSAGE

    @property
    def title_lines(self) -> list[str]:
        return [line for line in [self.question, *self.phrasings] if line]

    @property
    def title_text(self) -> str:
        return " ".join([*self.title_lines, *self.tags])

    @property
    def embedding_text(self) -> str:
        return "\n".join([*self.title_lines, self.answer])


class TextEmbedder(Protocol):
    """What the index asks of an `embeddings.Embedder` (named here it would make a cycle)."""

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> list[np.ndarray]: ...


@dataclass
class DenseVectors:
    """Unit vectors of each entry's parts: every question line (its number) and the answer (line -1).

    An entry's dense score is its best part's cosine similarity to the question:
    a question close to one phrasing counts even when the answer is long. The
    calibration leaves lines out (`without`) without embedding anything again.
    """

    unit: np.ndarray  # (parts, dimensions)
    owner: np.ndarray  # (parts,) position of the entry
    line: np.ndarray  # (parts,) title line number, -1 for the answer

    @classmethod
    def of(cls, documents: list[Document], embedder: TextEmbedder) -> DenseVectors:
        texts, owner, line = [], [], []
        for position, document in enumerate(documents):
            for number, text in enumerate(document.title_lines):
                texts.append(text)
                owner.append(position)
                line.append(number)
            texts.append(document.embedding_text)
            owner.append(position)
            line.append(-1)
        return cls(embedder.embed(texts), np.array(owner, dtype=np.int64), np.array(line, dtype=np.int64))

    def without(self, lines: dict[int, set[int]]) -> DenseVectors:
        keep = np.array(
            [int(line) not in lines.get(int(owner), ()) for owner, line in zip(self.owner, self.line, strict=True)],
            dtype=bool,
        )
        return DenseVectors(self.unit[keep], self.owner[keep], self.line[keep])

    def vector(self, position: int, line: int) -> np.ndarray:
        (found,) = np.flatnonzero((self.owner == position) & (self.line == line))[:1]
        return self.unit[found]

    def scores(self, query: np.ndarray, count: int) -> np.ndarray:
        similarities = self.unit @ query
        best = np.full(count, -1.0, dtype="float32")
        # numpy 2's unbuffered `maximum.at` takes 0.2 ms at 100,000 parts (`maximum.reduceat` over runs: 0.9 ms).
        np.maximum.at(best, self.owner, similarities)
        return best


@dataclass
class Hit:
    document: Document
    # Word-index score, scaled (1.0 ≈ one word found in a single entry).
    score: float
    # Blend used for ranking, 0..1 relative to the best entry.
    rank_score: float
    # Cosine similarity of the question to the entry's closest part (None without embeddings).
    similarity: float | None = None
    # Position in the index, for the decision's features.
    position: int = -1

    @property
    def key(self) -> str:
        return self.document.key


@dataclass
class Query:
    text: str
    # Search terms: the question's content words, typos corrected, plus the
    # English words its synonyms stand for.
    terms: list[str]
    # The question's content words as asked (typos corrected), each with the
    # English words it stands for and its weight: what an entry must contain to answer it.
    asked: list[tuple[str, frozenset[str], float]]


@dataclass
class Retrieval:
    """One search: the ranking and the raw figures behind it."""

    query: Query
    hits: list[Hit]
    word_scores: np.ndarray
    ngram_scores: np.ndarray
    blend: np.ndarray
    # The context a follow-up was searched with ("" for a question alone).
    context: str = ""
    # Cosine similarity of each entry to the question (None: lexical only).
    dense_scores: np.ndarray | None = None

    @property
    def best(self) -> Hit | None:
        return self.hits[0] if self.hits else None

    @property
    def keys(self) -> list[str]:
        return [hit.key for hit in self.hits]


def relative(scores: np.ndarray) -> np.ndarray:
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else scores


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the `k` highest scores, best first, ties in index order (as a stable full sort gives)."""
    if k <= 0 or not len(scores):
        return np.zeros(0, dtype=np.int64)
    if k >= len(scores):
        return np.argsort(-scores, kind="stable")
    # Every score tied with the k-th is a candidate, so that ties keep their index order.
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    candidates = np.flatnonzero(scores >= kth)
    return candidates[np.argsort(-scores[candidates], kind="stable")][:k]


def title_similarity(question: str, document: Document) -> float:
    """How close `question` is, character by character, to the entry's question or a phrasing (0..1)."""
    asked = " ".join(words(question))
    if not asked:
        return 0.0
    return max(
        (difflib.SequenceMatcher(None, asked, " ".join(words(line))).ratio() for line in document.title_lines),
        default=0.0,
    )


def near_exact(question: str, document: Document, threshold: float) -> bool:
    """Whether `question` is, give or take a few characters, the entry's question or a phrasing."""
    return title_similarity(question, document) >= threshold


class SearchIndex:
    """`vectors`: the entries' embeddings, `embedder` the one that embeds questions the same way.
    Without them, retrieval is lexical."""

    def __init__(
        self,
        documents: Iterable[Document],
        analyzer: Analyzer | None = None,
        embedder: TextEmbedder | None = None,
        vectors: DenseVectors | None = None,
    ) -> None:
        self.documents = list(documents)
        self.analyzer = analyzer or default_analyzer()
        self.embedder = embedder
        title_terms = [self.analyzer.terms(document.title_text) for document in self.documents]
        word_docs = [
            terms * TITLE_WEIGHT + self.analyzer.terms(document.answer)
            for terms, document in zip(title_terms, self.documents, strict=False)
        ]
        self.words = self._bm25([with_stems(terms) for terms in word_docs])
        self.ngrams = self._bm25([self.analyzer.ngrams(terms) for terms in word_docs])
        self.term_sets = [frozenset(with_stems(terms)) for terms in word_docs]
        self.title_sets = [frozenset(with_stems(terms)) for terms in title_terms]
        # Indexed words by trigram: typo candidates are the words sharing pieces with the typo.
        self.words_by_ngram: defaultdict[str, set[str]] = defaultdict(set)
        for term in {term for terms in word_docs for term in terms if len(term) >= MIN_TYPO_LENGTH - 1}:
            for gram in self.analyzer.ngrams([term]):
                self.words_by_ngram[gram].add(term)
        count = len(self.documents)
        self.document_frequency = Counter(term for terms in self.term_sets for term in terms)
        # BM25's idf of a word found in exactly one entry: the unit of `Hit.score`.
        self.unit = math.log(1 + (count - 0.5) / 1.5) if count else 1.0
        self.ids = np.array([document.id for document in self.documents], dtype=np.int64)
        # Entries' ids are positive, passages' negative (`Document`).
        self.entry_ids = frozenset(int(id) for id in self.ids if id > 0)
        self.has_passages = bool((self.ids < 0).any())
        self.vectors = vectors
        # Why the index has no vectors although an embedder was given ("" when it has them).
        self.embeddings_error = ""
        if vectors is None and embedder is not None and self.documents:
            from chatapp.faq.embeddings import EmbeddingsUnavailable

            try:
                self.vectors = DenseVectors.of(self.documents, embedder)
            except EmbeddingsUnavailable as error:
                self.embeddings_error = str(error) or "the embeddings endpoint failed"
                log.warning("FAQ embeddings unavailable, ranking lexically: %s", self.embeddings_error)
        # Set by `decision.calibrate` when the index is built.
        self.calibration: Any = None  # a decision.Calibration: named here it would make a cycle

    @staticmethod
    def _bm25(corpus: list[list[str]]) -> bm25s.BM25:
        model = bm25s.BM25()
        if corpus:
            model.index(corpus, show_progress=False)
        return model

    def __len__(self) -> int:
        return len(self.documents)

    def idf(self, term: str) -> float:
        """BM25's idf; a word no entry has counts as much as the rarest."""
        count = len(self.documents)
        frequency = self.document_frequency.get(term, 0)
        return math.log(1 + (count - frequency + 0.5) / (frequency + 0.5))

    def _scores(self, model: bm25s.BM25, terms: list[str]) -> np.ndarray:
        known = [term for term in terms if term in model.vocab_dict]
        if not known:
            return np.zeros(len(self.documents), dtype="float32")
        return model.get_scores(known)

    def correct(self, terms: list[str]) -> list[str]:
        """Read each unknown word as its closest indexed word, when one is close enough."""
        known = self.words.vocab_dict
        corrected = []
        for term in terms:
            if term not in known and len(term) >= MIN_TYPO_LENGTH:
                shared = Counter(
                    word for gram in self.analyzer.ngrams([term]) for word in self.words_by_ngram.get(gram, ())
                )
                candidates = [word for word, count in shared.items() if count >= 2]
                match = difflib.get_close_matches(term, candidates, n=1, cutoff=TYPO_SIMILARITY)
                term = match[0] if match else term
            corrected.append(term)
        return corrected

    def query(self, text: str) -> Query:
        vocabulary = self.words.vocab_dict if self.documents else {}
        terms = self.correct(self.analyzer.terms(text, expand=True, vocabulary=vocabulary))
        asked = self.analyzer.asked_terms(text, vocabulary)
        fixed = self.correct([term for term, _ in asked])
        return Query(
            text,
            list(dict.fromkeys(with_stems(terms))),
            [(term, synonyms, 1.0) for term, (_, synonyms) in zip(fixed, asked, strict=False)],
        )

    def _raw_scores(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        word_scores = self._scores(self.words, query.terms) / self.unit
        ngram_scores = self._scores(self.ngrams, self.analyzer.ngrams(query.terms))
        return word_scores, ngram_scores

    def query_vector(self, text: str) -> np.ndarray | None:
        """The question's embedding, None without embeddings or when the endpoint fails."""
        return self.query_vectors([text])[0]

    def query_vectors(self, texts: list[str]) -> list[np.ndarray | None]:
        """The questions' embeddings, in one request; Nones without embeddings or when the endpoint fails."""
        if self.vectors is None or self.embedder is None:
            return [None] * len(texts)
        from chatapp.faq.embeddings import EmbeddingsUnavailable

        try:
            return [np.asarray(vector) for vector in self.embedder.embed_queries(texts)]
        except EmbeddingsUnavailable as error:
            log.warning("FAQ embeddings unavailable, ranking lexically: %s", error)
            return [None] * len(texts)

    @staticmethod
    def dense_text(question: str, context: str = "") -> str:
        """What is embedded for a question: a follow-up with its context."""
        return f"{context} {question}" if context else question

    def search(
        self,
        question: str,
        k: int = 3,
        visible: Collection[int] | None = None,
        context: str = "",
        exclude: Collection[int] = (),
        query_vector: np.ndarray | None = None,
    ) -> Retrieval:
        """The `k` best entries for `question`.

        `visible`: ids of the only entries that may be found (None: all).
        `context`: earlier questions of the conversation, for a follow-up.
        `exclude`: positions of entries to leave out (the calibration's
        "not covered" questions are entries' own questions, their entry left out).
        `query_vector`: the question's embedding when the caller has it already.

        Lexical (words and trigrams) and dense scores are fused linearly, each
        relative to its best entry (`DENSE_WEIGHT`).
        """
        query = self.query(question)
        count = len(self.documents)
        if not count:
            empty = np.zeros(0, dtype="float32")
            return Retrieval(query, [], empty, empty, empty, context)
        word_scores, ngram_scores = self._raw_scores(query)
        if context:
            context_query = self.query(context)
            context_words, context_ngrams = self._raw_scores(context_query)
            # Divided back so that an entry matching both keeps the scale of its own score.
            word_scores = (
                word_scores * (1 + CONTEXT_BOOST * relative(context_words)) + CONTEXT_ALONE * context_words
            ) / (1 + CONTEXT_BOOST)
            ngram_scores = (
                ngram_scores * (1 + CONTEXT_BOOST * relative(context_ngrams)) + CONTEXT_ALONE * context_ngrams
            ) / (1 + CONTEXT_BOOST)
            own = {term for term, _, _ in query.asked}
            query = Query(
                question,
                query.terms + [term for term in context_query.terms if term not in query.terms],
                query.asked
                + [(term, synonyms, CONTEXT_WEIGHT) for term, synonyms, _ in context_query.asked if term not in own],
            )
        allowed = np.ones(count, dtype=bool) if visible is None else np.isin(self.ids, list(visible))
        if exclude:
            allowed[list(exclude)] = False
        word_scores = np.where(allowed, word_scores, 0)
        ngram_scores = np.where(allowed, ngram_scores, 0)
        blend = (1 - NGRAM_WEIGHT) * relative(word_scores) + NGRAM_WEIGHT * relative(ngram_scores)
        dense = None
        if self.vectors is not None:
            if query_vector is None:
                query_vector = self.query_vector(self.dense_text(question, context))
            if query_vector is not None:
                dense = np.where(allowed, self.vectors.scores(query_vector, count), -1.0)
        fused = (
            blend if dense is None else (1 - DENSE_WEIGHT) * blend + DENSE_WEIGHT * relative(np.clip(dense, 0, None))
        )
        order = [index for index in top_k(fused, k) if fused[index] > 0]
        hits = [
            Hit(
                self.documents[index],
                score=round(float(word_scores[index]), 3),
                rank_score=round(float(fused[index]), 3),
                similarity=None if dense is None else round(float(dense[index]), 3),
                position=int(index),
            )
            for index in order
        ]
        return Retrieval(query, hits, word_scores, ngram_scores, blend, context, dense)
