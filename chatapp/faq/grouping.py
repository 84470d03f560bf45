"""Unanswered questions grouped by topic, so reviewers see "12 people asked about expense reports".

Each question becomes a TF-IDF vector of the same search terms retrieval uses
(synonyms expanded, so "Spesen" and "expenses" meet, plus character trigrams
for typos and word forms). Questions join the most similar group when the
cosine similarity to its centroid reaches GROUP_SIMILARITY, else start a new
one: a single pass, fine for the few hundred open questions a team has.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from chatapp.faq.analysis import Analyzer, default_analyzer

if TYPE_CHECKING:
    from chatapp.faq.models import UnansweredQuestion

GROUP_SIMILARITY = 0.3
TOPIC_WORDS = 3


@dataclass
class QuestionGroup:
    questions: list[UnansweredQuestion] = field(default_factory=list)
    topic: str = ""
    # Ids of the entries the reviewer may see (None: all): others are never listed.
    visible: set | None = None

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def people(self) -> int:
        askers = {question.asked_by_id for question in self.questions if question.asked_by_id}
        anonymous = sum(1 for question in self.questions if not question.asked_by_id)
        return len(askers) + anonymous

    @property
    def ids(self) -> list[int]:
        return [question.pk for question in self.questions]

    @property
    def candidates(self) -> list[dict[str, Any]]:
        """The entries the bot listed for these questions ("not sure"), most often listed first: {id, key, question}."""
        counts: Counter[int] = Counter()
        found: dict[int, dict[str, Any]] = {}
        for question in self.questions:
            for rank, item in enumerate(question.candidates or []):
                if isinstance(item, dict) and "id" in item and (self.visible is None or item["id"] in self.visible):
                    counts[item["id"]] += 10 - min(rank, 9)
                    found.setdefault(item["id"], item)
        return [found[pk] for pk, _ in counts.most_common()]

    @property
    def summary(self) -> str:
        people = self.people
        return f"{people} {'person' if people == 1 else 'people'} asked about {self.topic}"


def group_similar(
    questions: Iterable[UnansweredQuestion], analyzer: Analyzer | None = None, threshold: float = GROUP_SIMILARITY
) -> list[QuestionGroup]:
    """Groups of `questions` (objects with `.question`), largest first."""
    questions = list(questions)
    if not questions:
        return []
    analyzer = analyzer or default_analyzer()
    term_lists = []
    for question in questions:
        terms = analyzer.terms(question.question, expand=True)
        term_lists.append(terms + analyzer.ngrams(terms))
    vocabulary = {term: index for index, term in enumerate(sorted({t for terms in term_lists for t in terms}))}
    frequency = Counter(term for terms in term_lists for term in set(terms))
    vectors = np.zeros((len(questions), max(len(vocabulary), 1)), dtype="float32")
    for row, terms in enumerate(term_lists):
        for term, count in Counter(terms).items():
            vectors[row, vocabulary[term]] = count * math.log(1 + len(questions) / frequency[term])
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors /= np.where(norms > 0, norms, 1)

    members: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for row in range(len(questions)):
        if centroids:
            matrix = np.array(centroids)
            similarities = matrix @ vectors[row] / np.maximum(np.linalg.norm(matrix, axis=1), 1e-9)
            best = int(np.argmax(similarities))
            if similarities[best] >= threshold:
                members[best].append(row)
                centroids[best] = vectors[members[best]].mean(axis=0)
                continue
        members.append([row])
        centroids.append(vectors[row].copy())

    groups = []
    for rows in members:
        words = Counter(term for row in rows for term in analyzer.terms(questions[row].question))
        topic = " ".join(word for word, _ in words.most_common(TOPIC_WORDS)) or questions[rows[0]].question[:40]
        groups.append(QuestionGroup([questions[row] for row in rows], topic))
    groups.sort(key=lambda group: (-group.count, -max(q.pk or 0 for q in group.questions)))
    return groups
