"""Unanswered questions grouped by topic, so reviewers see "12 people asked about expense reports".

Each question becomes a TF-IDF vector of the same search terms retrieval uses
(synonyms expanded, so "Spesen" and "expenses" meet, plus character trigrams
for typos and word forms). Questions join the most similar group when the
cosine similarity to its centroid reaches GROUP_SIMILARITY, else start a new
one: a single pass over sparse vectors (only the terms a question has), and
only each question's first GROUP_TEXT_CHARS compared, so that a flood of long
questions costs the page little.

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
from typing import TYPE_CHECKING

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


# What of a question is compared: its opening says what it is about, and a
# question of 20,000 characters must cost no more than a long one.
GROUP_TEXT_CHARS = 1000


@dataclass
class QuestionGroup:
    questions: list[UnansweredQuestion] = field(default_factory=list)
    topic: str = ""
    # Ids of the entries the reviewer may see (None: all): others are never listed.
    visible: set[int] | None = None

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
    def candidates(self) -> list[dict[str, object]]:
        """The entries the bot listed for these questions ("not sure"), most often listed first: {id, key, question}."""
        counts: Counter[int] = Counter()
        found: dict[int, dict[str, object]] = {}
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
        terms = analyzer.terms(question.question[:GROUP_TEXT_CHARS], expand=True)
        term_lists.append(terms + analyzer.ngrams(terms))
    frequency = Counter(term for terms in term_lists for term in set(terms))
    vectors = []
    for terms in term_lists:
        weights = {
            term: count * math.log(1 + len(questions) / frequency[term]) for term, count in Counter(terms).items()
        }
        norm = math.sqrt(sum(weight * weight for weight in weights.values())) or 1.0
        vectors.append({term: weight / norm for term, weight in weights.items()})

    # Sparse: each group's summed vector (the centroid times its size, which
    # leaves the cosine alike), its squared norm, and which groups hold a term.
    members: list[list[int]] = []
    sums: list[dict[str, float]] = []
    norms2: list[float] = []
    holding: dict[str, list[int]] = {}
    languages: list[str] = []
    group_terms: list[set[str]] = []
    for row, vector in enumerate(vectors):
        brings = _Words.of(questions[row].question[:GROUP_TEXT_CHARS], analyzer)
        dots: dict[int, float] = {}
        for term, weight in vector.items():
            for group in holding.get(term, ()):
                dots[group] = dots.get(group, 0.0) + sums[group][term] * weight
        # The most similar group this question may join, if similar enough.
        ranked = sorted(
            ((dots[group] / max(math.sqrt(norms2[group]), 1e-9), group) for group in dots),
            key=lambda item: (-item[0], item[1]),
        )
        best = next(
            (
                group
                for similarity, group in ranked
                if similarity >= threshold and brings.may_join(languages[group], group_terms[group])
            ),
            -1,
        )
        if best < 0:
            best = len(members)
            members.append([])
            sums.append({})
            norms2.append(0.0)
            languages.append(brings.language)
            group_terms.append(set())
        members[best].append(row)
        group_terms[best].update(*brings.meanings)
        languages[best] = languages[best] or brings.language
        total = sums[best]
        for term, weight in vector.items():
            old = total.get(term, 0.0)
            if old == 0.0:
                holding.setdefault(term, []).append(best)
            total[term] = old + weight
            norms2[best] += (old + weight) ** 2 - old * old

    groups = []
    for rows in members:
        counted = Counter(term for row in rows for term in analyzer.terms(questions[row].question[:GROUP_TEXT_CHARS]))
        topic = " ".join(word for word, _ in counted.most_common(TOPIC_WORDS)) or questions[rows[0]].question[:40]
        groups.append(QuestionGroup([questions[row] for row in rows], topic))
    groups.sort(key=lambda group: (-group.count, -max(q.pk or 0 for q in group.questions)))
    return groups
