"""Whether the knowledge base answers a question: answer, not sure, or not covered.

One paragraph says how. A question is searched (`index.py`: words, trigrams and,
when there are embeddings, sentence similarity, fused); a follow-up is searched
again with the conversation's earlier questions, and the search that makes the
better case is kept. Of its first source the decision reads a few figures: how
much of the question's content the source contains, how similar their meanings
are (embeddings), how far the source leads the runner-up in both, whether the
rankings agree, how close the question is to one of the source's own phrasings,
and how much of the question no source knows at all. One logistic model turns
them into the probability that the first source answers the question, another
into the probability that one of the listed sources does. At or above the
answer threshold the bot answers; above the list threshold it says it is not
sure and lists the sources; below, the question is not covered.

The models and thresholds are fitted (`python manage.py faq_fit_decision`) on
the questions of the development knowledge bases shipped in `data/` (sample,
lab and clinic; never the frozen theatre set), pooled, with the thresholds set
where at most 2% of answerable questions are answered with a wrong source and
at most 6% of unanswerable ones are answered. One set of coefficients serves
lexical-only indexes, another indexes with embeddings.

It replaces a calibration on each knowledge base's own phrasings (an entry's
question searched with that line, or the whole entry, left out). Measured on
the development sets, those left-out phrasings are much closer to neighbouring
entries than people's unanswerable questions are, so thresholds set on them
answered 0.24 to 0.61 of answerable questions right where the pooled model
answers 0.59 to 0.87 of questions of a knowledge base it was not fitted on
(README, "Knowledge base: the decision").
"""

import json
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NotRequired, TypedDict

import numpy as np

from chatapp.faq.analysis import is_follow_up, stem
from chatapp.faq.index import Hit, Retrieval, SearchIndex, title_similarity

log = logging.getLogger(__name__)

COEFFICIENTS = Path(__file__).resolve().parent / "data" / "decision.json"


class Outcome(StrEnum):
    ANSWER = "answer"
    UNSURE = "unsure"
    NOT_COVERED = "not_covered"


# The names the rest of the package has always used.
ANSWER, UNSURE, NOT_COVERED = Outcome.ANSWER, Outcome.UNSURE, Outcome.NOT_COVERED

ALL_FEATURES = (
    "log_score",  # log(1 + best word score), 1.0 ≈ one word found in a single source
    "lead",  # 1 - the runner-up's fused score relative to the first
    "word_lead",  # the first source's word score over the runner-up's (0..1)
    "agreement",  # 1 when the word and trigram rankings put the same source first
    "coverage",  # share of the question's content (idf-weighted) found in the source
    "title_coverage",  # same, in the source's question, phrasings and tags only
    "unknown",  # share of the question's content that no source contains
    "title_similarity",  # closest character match to one of the source's phrasings
    "similarity",  # cosine similarity of the question to the source's closest part
    "dense_lead",  # that similarity minus the runner-up's
    "dense_agreement",  # 1 when the dense ranking alone puts the same source first
)
LEXICAL_FEATURES = ("log_score", "lead", "agreement", "coverage", "unknown", "title_similarity")
HYBRID_FEATURES = LEXICAL_FEATURES + ("similarity", "dense_lead", "dense_agreement")
# Fitting: answered with a wrong source at most this share of answerable questions,
# answered at most this share of unanswerable ones, declined at most this share of
# answerable questions whose source is listed.
MAX_ANSWERED_WRONG = 0.02
MAX_ANSWERED_UNCOVERED = 0.06
MAX_DECLINED = 0.02
L2 = 1.0


@dataclass
class Model:
    """A logistic model on standardised features."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray  # intercept last

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = ((np.atleast_2d(x) - self.mean) / self.scale) @ self.weights[:-1] + self.weights[-1]
        return 1 / (1 + np.exp(-np.clip(z, -30, 30)))

    def as_lists(self) -> list[list[float]]:
        return [self.mean.round(4).tolist(), self.scale.round(4).tolist(), self.weights.round(4).tolist()]

    @classmethod
    def from_lists(cls, values: Iterable[Iterable[float]]) -> "Model":
        return cls(*(np.asarray(list(value), dtype=float) for value in values))


def fit(x: np.ndarray, y: np.ndarray, l2: float = L2, iterations: int = 25) -> Model:
    """Logistic regression by Newton's method, ridge-penalised (never on the intercept)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    design = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    weights = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[-1, -1] = 0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(design @ weights, -30, 30)))
        gradient = design.T @ (p - y) + penalty @ weights
        hessian = (design.T * (p * (1 - p))) @ design + penalty + np.eye(design.shape[1]) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.abs(step).max() < 1e-6:
            break
    return Model(mean, scale, weights)


class CalibrationFigures(TypedDict):
    """A `Calibration` as `data/decision.json` keeps it."""

    features: list[str]
    answer: list[list[float]]
    cover: list[list[float]]
    answer_threshold: float
    list_threshold: float
    fitted_on: NotRequired[str]


@dataclass
class Calibration:
    """The two models and their thresholds, for one kind of index (lexical or hybrid)."""

    names: tuple[str, ...]
    answer: Model
    cover: Model
    answer_threshold: float
    list_threshold: float
    # What it was fitted on, for faq_eval and the logs.
    fitted_on: str = ""

    def describe(self) -> str:
        kind = "hybrid" if "similarity" in self.names else "lexical"
        return (
            f"{kind} decision fitted on {self.fitted_on or 'the development sets'}; "
            f"answer at p ≥ {self.answer_threshold:.2f}, list at p ≥ {self.list_threshold:.2f}"
        )

    def select(self, x: np.ndarray) -> np.ndarray:
        return np.atleast_2d(x)[:, [ALL_FEATURES.index(name) for name in self.names]]

    def as_dict(self) -> CalibrationFigures:
        return {
            "features": list(self.names),
            "answer": self.answer.as_lists(),
            "cover": self.cover.as_lists(),
            "answer_threshold": self.answer_threshold,
            "list_threshold": self.list_threshold,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_dict(cls, data: CalibrationFigures) -> "Calibration":
        return cls(
            tuple(data["features"]),
            Model.from_lists(data["answer"]),
            Model.from_lists(data["cover"]),
            float(data["answer_threshold"]),
            float(data["list_threshold"]),
            str(data.get("fitted_on", "")),
        )


def all_features(index: SearchIndex, retrieval: Retrieval) -> np.ndarray | None:
    """Every figure of a search (`ALL_FEATURES`), for its first source; None without any."""
    if not retrieval.hits:
        return None
    top = retrieval.hits[0].position
    word, ngram = retrieval.word_scores, retrieval.ngram_scores
    best = float(word[top])
    others = np.delete(word, top)
    runner_up = float(others.max()) if len(others) else 0.0
    second = retrieval.hits[1].rank_score if len(retrieval.hits) > 1 else 0.0
    first = retrieval.hits[0].rank_score or 1.0
    agreement = (int(word.argmax()) == top) * 0.5 + (int(ngram.argmax()) == top) * 0.5
    terms, titles, vocabulary = index.term_sets[top], index.title_sets[top], index.document_frequency
    total = covered = in_title = unknown = 0.0
    for term, synonyms, share in retrieval.query.asked:
        weight = index.idf(term) * share
        total += weight
        forms = {term, *synonyms}
        forms |= {stem(form) for form in forms}
        covered += weight * bool(forms & terms)
        in_title += weight * bool(forms & titles)
        unknown += weight * (not any(vocabulary.get(form, 0) for form in forms))
    total = total or 1.0
    return np.array(
        [
            np.log1p(best),
            1 - second / first,
            (best - runner_up) / best if best > 0 else 0.0,
            agreement,
            covered / total,
            in_title / total,
            unknown / total,
            title_similarity(retrieval.query.text, retrieval.hits[0].document),
            *dense_features(retrieval.dense_scores, top),
        ]
    )


def dense_features(dense: np.ndarray | None, top: int) -> tuple[float, float, float]:
    if dense is None or not len(dense):
        return (0.0, 0.0, 0.0)
    first = float(dense[top])
    others = np.delete(dense, top)
    runner_up = float(others.max()) if len(others) else 0.0
    return (first, first - runner_up, float(int(dense.argmax()) == top))


def thresholds(
    p_answer: np.ndarray,
    p_cover: np.ndarray,
    right: np.ndarray,
    listed: np.ndarray,
    answerable: np.ndarray,
    max_wrong: float | None = None,
    max_uncovered: float | None = None,
) -> tuple[float, float]:
    """The lowest answer threshold that keeps wrong answers rare, the list threshold that keeps declines rare."""
    max_wrong = MAX_ANSWERED_WRONG if max_wrong is None else max_wrong
    max_uncovered = MAX_ANSWERED_UNCOVERED if max_uncovered is None else max_uncovered
    answer_at = 0.99
    for candidate in np.arange(0.3, 0.99, 0.01):
        answered = p_answer >= candidate
        wrong = (answered & ~right)[answerable].mean() if answerable.any() else 0.0
        anyway = answered[~answerable].mean() if (~answerable).any() else 0.0
        if wrong <= max_wrong and anyway <= max_uncovered:
            answer_at = float(candidate)
            break
    found = np.maximum(p_cover, p_answer)[answerable & listed]
    list_at = float(np.quantile(found, MAX_DECLINED)) if len(found) else 0.05
    return round(answer_at, 3), round(min(list_at, answer_at), 3)


def fit_calibration(
    rows: np.ndarray,
    right: np.ndarray,
    listed: np.ndarray,
    answerable: np.ndarray,
    names: tuple[str, ...],
    fitted_on: str,
    max_wrong: float | None = None,
    max_uncovered: float | None = None,
) -> Calibration:
    """Models and thresholds from labelled questions: `right` the first source answers, `listed` one listed does."""
    empty = Calibration(
        names, Model(np.zeros(0), np.ones(0), np.zeros(1)), Model(np.zeros(0), np.ones(0), np.zeros(1)), 0, 0
    )
    x = empty.select(rows)
    answer = fit(x, (answerable & right).astype(float))
    cover = fit(x, (answerable & listed).astype(float))
    answer_at, list_at = thresholds(
        answer.probability(x), cover.probability(x), right, listed, answerable, max_wrong, max_uncovered
    )
    return Calibration(names, answer, cover, answer_at, list_at, fitted_on)


_shipped: dict[str, Calibration] = {}


def calibrate(index: SearchIndex) -> Calibration:
    """The decision's models for `index`: the hybrid ones when it has embeddings."""
    kind = "hybrid" if index.vectors is not None else "lexical"
    if not _shipped:
        data = json.loads(COEFFICIENTS.read_text(encoding="utf-8"))
        _shipped.update({name: Calibration.from_dict(values) for name, values in data.items()})
    return _shipped[kind]


@dataclass
class Decision:
    outcome: Outcome
    retrieval: Retrieval
    # Probability that the first source answers the question / that a listed one does.
    confidence: float = 0.0
    coverage: float = 0.0
    # Each feature's value, by name (ALL_FEATURES).
    figures: dict[str, float] = field(default_factory=dict)
    # Set when a capable model chose the answer (or none) among the listed entries.
    judged_by_model: bool = False

    @property
    def hits(self) -> list[Hit]:
        return self.retrieval.hits

    @property
    def best(self) -> Hit | None:
        return self.retrieval.best

    @property
    def keys(self) -> list[str]:
        return self.retrieval.keys

    @property
    def question(self) -> str:
        return self.retrieval.query.text

    @property
    def covered(self) -> bool:
        return self.outcome != NOT_COVERED

    @property
    def best_score(self) -> float:
        return self.best.score if self.best else 0.0

    @property
    def used_context(self) -> bool:
        return bool(self.retrieval.context)


def judge(index: SearchIndex, retrieval: Retrieval, calibration: Calibration) -> Decision:
    x = all_features(index, retrieval)
    if x is None:
        return Decision(NOT_COVERED, retrieval)
    selected = calibration.select(x)
    confidence = float(calibration.answer.probability(selected)[0])
    coverage = max(float(calibration.cover.probability(selected)[0]), confidence)
    if confidence >= calibration.answer_threshold:
        outcome = ANSWER
    elif coverage >= calibration.list_threshold:
        outcome = UNSURE
    else:
        outcome = NOT_COVERED
    figures = dict(zip(ALL_FEATURES, (round(float(value), 4) for value in x), strict=True))
    return Decision(outcome, retrieval, round(confidence, 4), round(coverage, 4), figures)


def decide(
    index: SearchIndex,
    question: str,
    context: Iterable[str] = (),
    visible: Collection[int] | None = None,
    k: int = 3,
) -> Decision:
    """Search and decide. `context`: the conversation's earlier questions, latest last."""
    calibration = index.calibration
    if calibration is None:
        calibration = index.calibration = calibrate(index)
    earlier = [text for text in context if text and text.strip()][-2:]
    follow_up = " ".join(earlier) if earlier and is_follow_up(question) else ""

    # Embedded once for every search below (the question, and the follow-up with its context, in one request).
    texts = [index.dense_text(question)] + ([index.dense_text(question, follow_up)] if follow_up else [])
    vectors = index.query_vectors(texts) if index.vectors is not None else [None] * len(texts)

    def decided(allowed: Collection[int] | None) -> Decision:
        decision = judge(index, index.search(question, k=k, visible=allowed, query_vector=vectors[0]), calibration)
        if follow_up and decision.confidence < 1.0:
            followed = judge(
                index,
                index.search(question, k=k, visible=allowed, context=follow_up, query_vector=vectors[-1]),
                calibration,
            )
            if followed.confidence > decision.confidence:
                decision = followed
        return decision

    decision = decided(visible)
    if index.has_passages and not (
        decision.outcome == ANSWER and decision.best and not decision.best.document.is_passage
    ):
        # A confident curated entry wins over a passage: a reviewed answer beats raw documentation.
        entries = index.entry_ids if visible is None else index.entry_ids & set(visible)
        if entries:
            curated = decided(entries)
            if curated.outcome == ANSWER:
                return curated
    return decision
