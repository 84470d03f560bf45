"""Measuring retrieval on a file of questions with known answers.

The file is JSON Lines: `{"question": ..., "expected": [entry keys]}` per line,
`expected: []` for questions the knowledge base should not cover; an optional
`kind` (e.g. "typo", "german") gives a breakdown.
"""

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field


class EvaluationFileError(Exception):
    pass


@dataclass
class Case:
    question: str
    expected: list
    kind: str = ""


@dataclass
class Outcome:
    case: Case
    ranked: list
    best_score: float
    seconds: float

    def rank(self):
        for position, key in enumerate(self.ranked, 1):
            if key in self.case.expected:
                return position
        return None


@dataclass
class Report:
    outcomes: list = field(default_factory=list)
    min_score: float = 0.0

    @property
    def answerable(self):
        return [outcome for outcome in self.outcomes if outcome.case.expected]

    @property
    def unanswerable(self):
        return [outcome for outcome in self.outcomes if not outcome.case.expected]

    @staticmethod
    def _share(outcomes, test):
        return sum(1 for outcome in outcomes if test(outcome)) / len(outcomes) if outcomes else None

    def recall_at(self, k, outcomes=None):
        return self._share(self.answerable if outcomes is None else outcomes, lambda o: (o.rank() or k + 1) <= k)

    def mrr(self, outcomes=None):
        outcomes = self.answerable if outcomes is None else outcomes
        return sum(1 / o.rank() for o in outcomes if o.rank()) / len(outcomes) if outcomes else None

    def not_covered_rate(self, min_score=None):
        """Share of the unanswerable questions the bot would decline."""
        threshold = self.min_score if min_score is None else min_score
        return self._share(self.unanswerable, lambda o: o.best_score < threshold)

    def declined_rate(self, min_score=None):
        """Share of the answerable questions the bot would wrongly decline."""
        threshold = self.min_score if min_score is None else min_score
        return self._share(self.answerable, lambda o: o.best_score < threshold)

    def by_kind(self):
        kinds = defaultdict(list)
        for outcome in self.answerable:
            kinds[outcome.case.kind or "-"].append(outcome)
        return dict(sorted(kinds.items()))

    def latencies(self):
        return sorted(outcome.seconds for outcome in self.outcomes)


def read_cases(lines):
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise EvaluationFileError(f"line {number}: not valid JSON ({error})") from None
        question, expected = data.get("question"), data.get("expected")
        if not isinstance(question, str) or not isinstance(expected, list):
            raise EvaluationFileError(f'line {number}: needs "question" (text) and "expected" (a list of keys)')
        cases.append(Case(question, [str(key) for key in expected], str(data.get("kind", ""))))
    if not cases:
        raise EvaluationFileError("the file holds no questions")
    return cases


def evaluate(cases, index, k=10, min_score=0.0):
    report = Report(min_score=min_score)
    for case in cases:
        started = time.perf_counter()
        result = index.search(case.question, k=k, min_score=min_score)
        seconds = time.perf_counter() - started
        report.outcomes.append(Outcome(case, result.keys, result.best_score, seconds))
    return report
