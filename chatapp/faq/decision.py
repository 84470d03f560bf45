"""Whether the knowledge base answers a question: answer, unsure, or not covered.

One raw score on one fixed threshold does not carry from one knowledge base to
another, so the decision reads several figures of a search (`FEATURES`): the
best entry's word score, its lead over the runner-up in both rankings,
whether the word and trigram rankings agree, how much of the question's
content the entry contains (in its title lines and overall), how much of it no
entry knows at all, and how close the question is to one of the entry's own
phrasings. Two logistic models turn them into probabilities: that the first
entry answers the question, and that one of the listed entries does.

Both are fitted on the knowledge base itself (`calibrate`). Each entry's
question and "also asked" phrasings are labelled questions: searched with that
line taken out of the entry (in folds, so the index is built a few times, not
once per line), they are questions the entry answers in other words; searched
with the whole entry left out, they are questions the rest of the knowledge
base does not cover but looks close to. The thresholds are set on the same
questions: answer only where almost no left-out question would be answered,
list the closest entries where most answerable ones would still be found.
The calibration is cached with the index, so it is redone whenever the
published entries change.
"""

import logging
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from chatapp.faq.analysis import is_follow_up, stem
from chatapp.faq.index import Document, Hit, Retrieval, SearchIndex, title_similarity

log = logging.getLogger(__name__)

ANSWER = "answer"
UNSURE = "unsure"
NOT_COVERED = "not_covered"

FEATURES = (
    "log_score",  # log(1 + best word score), 1.0 ≈ one word found in a single entry
    "lead",  # 1 - the runner-up's blended score relative to the first
    "word_lead",  # the first entry's word score over the runner-up's (0..1)
    "agreement",  # 1 when the word and trigram rankings put the same entry first
    "coverage",  # share of the question's content (idf-weighted) found in the entry
    "title_coverage",  # same, in the entry's question, phrasings and tags only
    "unknown",  # share of the question's content that no entry contains
    "title_similarity",  # closest character match to one of the entry's phrasings
)

# Calibration: folds over the labelled questions, and at most this many of them.
FOLDS = 4
MAX_CALIBRATION_QUESTIONS = 600
# Fewer labelled questions than this and the built-in coefficients are used.
MIN_CALIBRATION_QUESTIONS = 40
# Of the left-out questions (nothing answers them), at most this share may be answered...
MAX_ANSWERED_UNCOVERED = 0.05
# ...and of the answerable ones at most this share answered with a wrong entry.
MAX_ANSWERED_WRONG = 0.02
# Of the answerable questions whose entry is listed, at most this share may be declined.
MAX_DECLINED = 0.03
# A question this close to one of an entry's own phrasings is that entry's (FAQ_NEAR_EXACT).
NEAR_EXACT = 0.9
# "Not covered" means no match: an entry holding this share of the question's
# content (idf-weighted, word forms and synonyms included) is listed whatever the
# models say. A "not sure" that lists the closest entries asserts nothing, while a
# wrong "not covered" teaches people not to ask; and the calibration's answerable
# questions are the entries' own phrasings, closer to their entry than people's
# questions are, so its list threshold alone declines too much on a knowledge base
# with few phrasings. Below a fifth, the overlap is a common word or two ("office",
# "lab"): that is no match.
MIN_MATCH = 0.2
# Never answer below this probability, never list below that one.
ANSWER_FLOOR = 0.5
LIST_FLOOR = 0.05
L2 = 1.0

# Fitted on the shipped sample knowledge base (58 entries, 149 phrasings) with
# `calibrate`: used for knowledge bases too small to calibrate on themselves.
# Each model: feature means, feature scales, weights (intercept last).
DEFAULT_ANSWER = [
    [0.5862, 0.2975, 0.2911, 0.8372, 0.5485, 0.3704, 0.2263, 0.4304],
    [0.224, 0.2129, 0.2467, 0.2614, 0.287, 0.2832, 0.2857, 0.131],
    [0.8325, 1.0213, -0.3393, 0.5105, 0.4183, 0.0687, -0.1175, -0.0239, -0.9633],
]
DEFAULT_COVER = [
    [0.5862, 0.2975, 0.2911, 0.8372, 0.5485, 0.3704, 0.2263, 0.4304],
    [0.224, 0.2129, 0.2467, 0.2614, 0.287, 0.2832, 0.2857, 0.131],
    [0.9733, 0.6962, -0.3713, 0.2556, 0.4649, 0.0277, -0.1149, 0.08, -0.2589],
]
DEFAULT_THRESHOLDS = (0.68, 0.154)


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
    def from_lists(cls, values: Iterable[Sequence[float]]) -> "Model":
        return cls(*(np.asarray(value, dtype=float) for value in values))


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


@dataclass
class Calibration:
    answer: Model
    cover: Model
    answer_threshold: float
    list_threshold: float
    # What it was fitted on, for faq_eval and the logs.
    answerable: int = 0
    uncovered: int = 0
    seconds: float = 0.0
    built_in: bool = False

    def describe(self) -> str:
        if self.built_in:
            return "built-in coefficients (knowledge base too small to calibrate on)"
        return (
            f"calibrated on the knowledge base: {self.answerable} of its own phrasings, {self.uncovered} with their "
            f"entry left out, in {self.seconds * 1000:.0f} ms; answer at p ≥ {self.answer_threshold:.2f}, "
            f"list at p ≥ {self.list_threshold:.2f}"
        )


def features(index: SearchIndex, retrieval: Retrieval, excluded: Iterable[int] = ()) -> np.ndarray | None:
    """The figures of a search that the decision reads, for its first entry; None without any.

    `excluded`: positions of entries the search left out, whose words then count as unknown.
    """
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
    left_out = [index.term_sets[position] for position in excluded]

    def known(form: str) -> bool:
        return vocabulary.get(form, 0) > sum(form in other for other in left_out)

    for term, synonyms, share in retrieval.query.asked:
        weight = index.idf(term) * share
        total += weight
        forms = {term, *synonyms}
        forms |= {stem(form) for form in forms}
        covered += weight * bool(forms & terms)
        in_title += weight * bool(forms & titles)
        unknown += weight * (not any(known(form) for form in forms))
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
        ]
    )


def _labelled_questions(index: SearchIndex) -> list[tuple[int, int, str]]:
    """(position of the entry, line number, text) for each entry's question and phrasing."""
    questions = [
        (position, number, line)
        for position, document in enumerate(index.documents)
        for number, line in enumerate(document.title_lines)
    ]
    if len(questions) > MAX_CALIBRATION_QUESTIONS:
        step = len(questions) / MAX_CALIBRATION_QUESTIONS
        questions = [questions[int(i * step)] for i in range(MAX_CALIBRATION_QUESTIONS)]
    return questions


def _without_lines(document: Document, lines: set) -> Document:
    kept = [line for number, line in enumerate(document.title_lines) if number not in lines]
    return Document(document.id, document.key, kept[0] if kept else "", document.answer, kept[1:], document.tags)


def calibration_samples(index: SearchIndex, k: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features and labels of the knowledge base's own questions (see the module's docstring)."""
    questions = _labelled_questions(index)
    rows, answer_labels, cover_labels, answerable = [], [], [], []
    for fold in range(FOLDS):
        held = [(position, number, line) for position, number, line in questions if (position + number) % FOLDS == fold]
        if not held:
            continue
        lines: dict[int, set[int]] = {}
        for position, number, _ in held:
            lines.setdefault(position, set()).add(number)
        documents = [
            _without_lines(document, lines.get(position, set())) for position, document in enumerate(index.documents)
        ]
        fold_index = SearchIndex(documents, analyzer=index.analyzer)
        for position, _, line in held:
            found = fold_index.search(line, k=k)
            x = features(fold_index, found)
            if x is not None:
                rows.append(x)
                listed = [hit.position for hit in found.hits]
                answer_labels.append(float(listed[0] == position))
                cover_labels.append(float(position in listed))
                answerable.append(True)
            missing = fold_index.search(line, k=k, exclude=[position])
            x = features(fold_index, missing, excluded=[position])
            if x is not None:
                rows.append(x)
                answer_labels.append(0.0)
                cover_labels.append(0.0)
                answerable.append(False)
    return np.array(rows), np.array(answer_labels), np.array(cover_labels), np.array(answerable)


def thresholds(
    p_answer: np.ndarray,
    p_cover: np.ndarray,
    answer_labels: np.ndarray,
    cover_labels: np.ndarray,
    answerable: np.ndarray,
) -> tuple[float, float]:
    """The lowest answer threshold that keeps wrong answers rare, the list threshold that keeps declines rare."""
    uncovered = ~answerable
    answer_at = 0.99
    for candidate in np.arange(ANSWER_FLOOR, 0.99, 0.01):
        answered = p_answer >= candidate
        uncovered_rate = answered[uncovered].mean() if uncovered.any() else 0.0
        wrong_rate = (answered & (answer_labels == 0))[answerable].mean() if answerable.any() else 0.0
        if uncovered_rate <= MAX_ANSWERED_UNCOVERED and wrong_rate <= MAX_ANSWERED_WRONG:
            answer_at = float(candidate)
            break
    listed = p_cover[answerable & (cover_labels == 1)]
    list_at = float(np.quantile(listed, MAX_DECLINED)) if len(listed) else LIST_FLOOR
    return round(answer_at, 3), round(min(max(list_at, LIST_FLOOR), answer_at), 3)


def calibrate(index: SearchIndex) -> Calibration:
    started = time.perf_counter()
    rows, answer_labels, cover_labels, answerable = (
        calibration_samples(index) if len(index) >= 2 else (np.array([]),) * 4
    )
    if len(rows) < MIN_CALIBRATION_QUESTIONS or answer_labels.sum() < 5 or cover_labels.sum() < 5:
        return built_in_calibration()
    answer = fit(rows, answer_labels)
    cover = fit(rows, cover_labels)
    answer_at, list_at = thresholds(
        answer.probability(rows), cover.probability(rows), answer_labels, cover_labels, answerable
    )
    calibration = Calibration(
        answer,
        cover,
        answer_at,
        list_at,
        answerable=int(answerable.sum()),
        uncovered=int((~answerable).sum()),
        seconds=time.perf_counter() - started,
    )
    log.info("FAQ decision %s", calibration.describe())
    return calibration


def built_in_calibration() -> Calibration:
    return Calibration(
        Model.from_lists(DEFAULT_ANSWER), Model.from_lists(DEFAULT_COVER), *DEFAULT_THRESHOLDS, built_in=True
    )


@dataclass
class Decision:
    outcome: str
    retrieval: Retrieval
    # Probability that the first entry answers the question / that a listed one does.
    confidence: float = 0.0
    coverage: float = 0.0
    figures: dict = field(default_factory=dict)
    # Set when a capable model chose the answer (or none) among the listed entries.
    judged_by_model: bool = False

    @property
    def hits(self) -> list:
        return self.retrieval.hits

    @property
    def best(self) -> Hit | None:
        return self.retrieval.best

    @property
    def keys(self) -> list:
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


def judge(
    index: SearchIndex, retrieval: Retrieval, calibration: Calibration, near_exact: float = NEAR_EXACT
) -> Decision:
    x = features(index, retrieval)
    if x is None:
        return Decision(NOT_COVERED, retrieval)
    confidence = float(calibration.answer.probability(x)[0])
    coverage = max(float(calibration.cover.probability(x)[0]), confidence)
    # Word for word one of the entry's phrasings: the knowledge base itself says it answers.
    # (The calibration cannot learn this: its questions are always taken out of their entry.)
    if x[FEATURES.index("title_similarity")] >= near_exact and not retrieval.context:
        confidence = coverage = 1.0
    if confidence >= calibration.answer_threshold:
        outcome = ANSWER
    elif coverage >= calibration.list_threshold or x[FEATURES.index("coverage")] >= MIN_MATCH:
        outcome = UNSURE
    else:
        outcome = NOT_COVERED
    return Decision(
        outcome, retrieval, round(confidence, 4), round(coverage, 4), dict(zip(FEATURES, x.round(4), strict=False))
    )


def decide(
    index: SearchIndex,
    question: str,
    context: Iterable[str] = (),
    visible: Collection[int] | None = None,
    k: int = 3,
    near_exact: float = NEAR_EXACT,
) -> Decision:
    """Search and decide. `context`: the conversation's earlier questions, latest last."""
    calibration = index.calibration
    if calibration is None:
        calibration = index.calibration = calibrate(index)
    decision = judge(index, index.search(question, k=k, visible=visible), calibration, near_exact)
    earlier = [text for text in context if text and text.strip()][-2:]
    if earlier and is_follow_up(question) and decision.confidence < 1.0:
        followed = judge(
            index, index.search(question, k=k, visible=visible, context=" ".join(earlier)), calibration, near_exact
        )
        if followed.confidence > decision.confidence:
            decision = followed
    return decision
