"""Unanswered questions grouped by topic, so reviewers see "12 people asked about expense reports".

Each question becomes a TF-IDF vector of the same search terms retrieval uses
(synonyms expanded, so "Spesen" and "expenses" meet, plus character trigrams
for typos and word forms). Questions join the most similar group when the
cosine similarity to its centroid reaches GROUP_SIMILARITY, else start a new
one: a single pass, fine for the few hundred open questions a team has.

Two guards keep unrelated questions apart: a question joins only a group in
its own language (told by its stopwords: English, French, German), and only
when at least two of its words meet the group's (a word meets by its stem or
a synonym): one shared everyday word ("pay", "day") is not a topic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_FRENCH, STOPWORDS_GERMAN

from chatapp.faq.analysis import Analyzer, default_analyzer, stem, words

if TYPE_CHECKING:
    from chatapp.faq.models import UnansweredQuestion

GROUP_SIMILARITY = 0.3
TOPIC_WORDS = 3
# Words a question must share with a group to join it (all of them if it has fewer).
SHARED_WORDS = 2
LANGUAGE_STOPWORDS = {
    "en": frozenset(STOPWORDS_EN_PLUS),
    "fr": frozenset(STOPWORDS_FRENCH),
    "de": frozenset(STOPWORDS_GERMAN),
}


def language_of(text: str) -> str:
    """ "en", "fr" or "de" by the stopwords `text` uses most; "" when none leads."""
    tokens = words(text)
    counts = {
        language: sum(token in stopwords for token in tokens) for language, stopwords in LANGUAGE_STOPWORDS.items()
    }
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    if ranked[0][1] == 0 or ranked[0][1] == ranked[1][1]:
        return ""
    return ranked[0][0]


@dataclass
class _Words:
    """What a question brings to a group: its language, and its content words with their stems and synonyms."""

    language: str
    meanings: list[frozenset[str]]  # per content word: its stem and its synonyms' terms

    @classmethod
    def of(cls, text: str, analyzer: Analyzer) -> _Words:
        meanings = []
        for word in dict.fromkeys(analyzer.terms(text)):
            meanings.append(frozenset({stem(word), *(stem(term) for term in analyzer.expand([word]))}))
        return cls(language_of(text), meanings)

    def may_join(self, group_language: str, group_terms: set[str]) -> bool:
        if self.language and group_language and self.language != group_language:
            return False
        met = sum(1 for meaning in self.meanings if meaning & group_terms)
        return met >= min(SHARED_WORDS, len(self.meanings))


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
    languages: list[str] = []
    group_terms: list[set[str]] = []
    for row in range(len(questions)):
        brings = _Words.of(questions[row].question, analyzer)
        joined = None
        if centroids:
            matrix = np.array(centroids)
            similarities = matrix @ vectors[row] / np.maximum(np.linalg.norm(matrix, axis=1), 1e-9)
            # The most similar group this question may join, if similar enough.
            joined = next(
                (
                    int(index)
                    for index in np.argsort(-similarities)
                    if similarities[index] >= threshold and brings.may_join(languages[index], group_terms[index])
                ),
                None,
            )
        if joined is not None:
            members[joined].append(row)
            centroids[joined] = vectors[members[joined]].mean(axis=0)
            group_terms[joined].update(*brings.meanings)
            languages[joined] = languages[joined] or brings.language
            continue
        members.append([row])
        centroids.append(vectors[row].copy())
        languages.append(brings.language)
        group_terms.append(set().union(*brings.meanings))

    groups = []
    for rows in members:
        words = Counter(term for row in rows for term in analyzer.terms(questions[row].question))
        topic = " ".join(word for word, _ in words.most_common(TOPIC_WORDS)) or questions[rows[0]].question[:40]
        groups.append(QuestionGroup([questions[row] for row in rows], topic))
    groups.sort(key=lambda group: (-group.count, -max(q.pk or 0 for q in group.questions)))
    return groups
