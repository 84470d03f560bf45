"""Measuring retrieval and the coverage decision on a file of questions with known answers.

The file is JSON Lines: `{"question": ..., "expected": [entry keys]}` per line,
`expected: []` for questions the knowledge base should not cover; an optional
`kind` (e.g. "typo", "german") gives a breakdown, and an optional `context`
(the earlier questions of the conversation, oldest first) makes it a follow-up.

Every question goes through the same `decide` as the bot's, so what is
measured is what users get: answered with the right entry, answered with a
wrong one, "not sure" with the right entry among those listed (or not), or
declined; and for the questions nothing answers, answered anyway, "not sure",
or declined.
"""

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from chatapp.faq.decision import ANSWER, NOT_COVERED, UNSURE, calibrate, decide
from chatapp.faq.index import SearchIndex


class EvaluationFileError(Exception):
    pass


@dataclass
class Case:
    question: str
    expected: list
    kind: str = ""
    context: list = field(default_factory=list)


@dataclass
class Outcome:
    case: Case
    ranked: list
    decision: str
    listed: list
    seconds: float
    confidence: float = 0.0

    def rank(self) -> int | None:
        for position, key in enumerate(self.ranked, 1):
            if key in self.case.expected:
                return position
        return None

    @property
    def verdict(self) -> str:
        """What the asker got, in the words of the report."""
        if not self.case.expected:
            return {ANSWER: "answered anyway", UNSURE: "unsure", NOT_COVERED: "declined"}[self.decision]
        if self.decision == ANSWER:
            return "answered right" if self.listed[0] in self.case.expected else "answered wrong"
        if self.decision == UNSURE:
            return "unsure, listed" if set(self.listed) & set(self.case.expected) else "unsure, not listed"
        return "wrongly declined"


ANSWERABLE_VERDICTS = ("answered right", "answered wrong", "unsure, listed", "unsure, not listed", "wrongly declined")
UNANSWERABLE_VERDICTS = ("answered anyway", "unsure", "declined")


@dataclass
class Report:
    outcomes: list = field(default_factory=list)

    @property
    def answerable(self) -> list:
        return [outcome for outcome in self.outcomes if outcome.case.expected]

    @property
    def unanswerable(self) -> list:
        return [outcome for outcome in self.outcomes if not outcome.case.expected]

    @staticmethod
    def _share(outcomes: list[Outcome], test: Callable[[Outcome], bool]) -> float | None:
        return sum(1 for outcome in outcomes if test(outcome)) / len(outcomes) if outcomes else None

    def recall_at(self, k: int, outcomes: list[Outcome] | None = None) -> float | None:
        return self._share(self.answerable if outcomes is None else outcomes, lambda o: (o.rank() or k + 1) <= k)

    def mrr(self, outcomes: list[Outcome] | None = None) -> float | None:
        outcomes = self.answerable if outcomes is None else outcomes
        return sum(1 / rank for o in outcomes if (rank := o.rank())) / len(outcomes) if outcomes else None

    def share(self, verdict: str, outcomes: list[Outcome] | None = None) -> float | None:
        """Share of the answerable (or unanswerable) questions that got `verdict`."""
        if outcomes is None:
            outcomes = self.answerable if verdict in ANSWERABLE_VERDICTS else self.unanswerable
        return self._share(outcomes, lambda o: o.verdict == verdict)

    def found(self, outcomes: list[Outcome] | None = None) -> float | None:
        """Answerable questions whose right entry was the answer or among those listed."""
        outcomes = self.answerable if outcomes is None else outcomes
        return self._share(outcomes, lambda o: o.verdict in ("answered right", "unsure, listed"))

    def by_kind(self) -> dict[str, list[Outcome]]:
        kinds: defaultdict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.outcomes:
            kinds[outcome.case.kind or ("-" if outcome.case.expected else "unanswerable")].append(outcome)
        return dict(sorted(kinds.items()))

    def latencies(self) -> list[float]:
        return sorted(outcome.seconds for outcome in self.outcomes)


def read_cases(lines: Iterable[str]) -> list:
    cases = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise EvaluationFileError(f"line {number}: not valid JSON ({error})") from None
        question, expected, context = data.get("question"), data.get("expected"), data.get("context", [])
        if not isinstance(question, str) or not isinstance(expected, list):
            raise EvaluationFileError(f'line {number}: needs "question" (text) and "expected" (a list of keys)')
        if not isinstance(context, list) or not all(isinstance(text, str) for text in context):
            raise EvaluationFileError(f'line {number}: "context" must be a list of earlier questions')
        cases.append(Case(question, [str(key) for key in expected], str(data.get("kind", "")), context))
    if not cases:
        raise EvaluationFileError("the file holds no questions")
    return cases


def evaluate(cases: Iterable[Case], index: SearchIndex, listed: int = 3, ranked: int = 10) -> Report:
    """Decide every case on `index`; `listed`: entries shown when unsure (FAQ_TOP_K)."""
    if index.calibration is None:
        index.calibration = calibrate(index)
    report = Report()
    for case in cases:
        started = time.perf_counter()
        decision = decide(index, case.question, context=case.context, k=max(listed, ranked))
        seconds = time.perf_counter() - started
        keys = decision.keys
        report.outcomes.append(Outcome(case, keys, decision.outcome, keys[:listed], seconds, decision.confidence))
    return report
