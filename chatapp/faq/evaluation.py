"""Measuring retrieval and the coverage decision on a file of questions with known answers.

The file is JSON Lines: `{"question": ..., "expected": [...]}` per line, each
expected source an entry's key or a passage as `{"doc": file name, "section":
heading or "page N"}`, `expected: []` for questions the knowledge base should
not cover; an optional
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
from pathlib import Path
from typing import Literal, NotRequired, TypedDict

from chatapp.faq.decision import ANSWER, NOT_COVERED, UNSURE, calibrate, decide
from chatapp.faq.index import Document, SearchIndex, SourceKind


class EvaluationFileError(Exception):
    pass


class ExpectedPassage(TypedDict):
    doc: str  # the document's file name
    section: NotRequired[str]  # a heading or "page N"


class EntryJson(TypedDict):
    kind: Literal["entry"]
    key: str


class PassageJson(TypedDict):
    kind: Literal["passage"]
    doc: str
    section: str
    page: int | None


class OutcomeJson(TypedDict):
    """One line of `faq_eval --json`."""

    question: str
    outcome: str
    sources: list[EntryJson | PassageJson]
    answer: str | None


@dataclass
class Case:
    question: str
    # Entry keys and passages.
    expected: list[str | ExpectedPassage]
    kind: str = ""
    # The earlier questions of the conversation, oldest first.
    context: list[str] = field(default_factory=list)

    def matches(self, document: Document) -> bool:
        return any(expected_matches(expected, document) for expected in self.expected)

    @property
    def source_kind(self) -> SourceKind | None:
        """What kind of source answers it (None: nothing should)."""
        if not self.expected:
            return None
        return SourceKind.PASSAGE if isinstance(self.expected[0], dict) else SourceKind.ENTRY

    @property
    def file_format(self) -> str:
        """The extension of the document that answers it ("" for entries)."""
        first = self.expected[0] if self.expected else ""
        if isinstance(first, str):
            return ""
        return Path(first["doc"]).suffix.lstrip(".").lower() or "text"


def expected_matches(expected: str | ExpectedPassage, document: Document) -> bool:
    if isinstance(expected, str):
        return not document.is_passage and document.key == expected
    if not document.is_passage or document.file_name != expected["doc"]:
        return False
    section = str(expected.get("section") or "").strip()
    if not section:
        return True
    if section.lower().startswith("page "):
        return str(document.page) == section[5:].strip()
    headings = [part.strip().casefold() for part in document.section.split(" › ")]
    return section.casefold() in headings or section.casefold() == document.section.casefold()


@dataclass
class Outcome:
    case: Case
    ranked: list[Document]  # best first
    decision: str
    listed: list[Document]  # listed (or the answer first)
    seconds: float
    confidence: float = 0.0

    def rank(self) -> int | None:
        for position, document in enumerate(self.ranked, 1):
            if self.case.matches(document):
                return position
        return None

    @property
    def verdict(self) -> str:
        """What the asker got, in the words of the report."""
        if not self.case.expected:
            verdicts: dict[str, str] = {ANSWER: "answered anyway", UNSURE: "unsure", NOT_COVERED: "declined"}
            return verdicts[self.decision]
        if self.decision == ANSWER:
            return "answered right" if self.case.matches(self.listed[0]) else "answered wrong"
        if self.decision == UNSURE:
            return "unsure, listed" if any(map(self.case.matches, self.listed)) else "unsure, not listed"
        return "wrongly declined"

    def as_json(self) -> OutcomeJson:
        """One line of `faq_eval --json`: readable by other tools."""
        sources = [source_json(document) for document in (self.listed if self.decision != NOT_COVERED else [])]
        answer = self.listed[0].answer if self.decision == ANSWER else None
        return {"question": self.case.question, "outcome": self.decision, "sources": sources, "answer": answer}


def source_json(document: Document) -> EntryJson | PassageJson:
    if document.is_passage:
        return {"kind": "passage", "doc": document.file_name, "section": document.section, "page": document.page}
    return {"kind": "entry", "key": document.key}


ANSWERABLE_VERDICTS = ("answered right", "answered wrong", "unsure, listed", "unsure, not listed", "wrongly declined")
UNANSWERABLE_VERDICTS = ("answered anyway", "unsure", "declined")


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def answerable(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.case.expected]

    @property
    def unanswerable(self) -> list[Outcome]:
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

    def by_source(self) -> dict[str, list[Outcome]]:
        """Answerable questions by the kind of source that answers them, and passages by file format."""
        groups: defaultdict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.answerable:
            kind = outcome.case.source_kind
            groups["entries" if kind == SourceKind.ENTRY else "documents"].append(outcome)
            if kind == SourceKind.PASSAGE:
                groups[f"  {outcome.case.file_format}"].append(outcome)
        return dict(groups)

    def by_kind(self) -> dict[str, list[Outcome]]:
        kinds: defaultdict[str, list[Outcome]] = defaultdict(list)
        for outcome in self.outcomes:
            kinds[outcome.case.kind or ("-" if outcome.case.expected else "unanswerable")].append(outcome)
        return dict(sorted(kinds.items()))

    def latencies(self) -> list[float]:
        return sorted(outcome.seconds for outcome in self.outcomes)


def read_cases(lines: Iterable[str]) -> list[Case]:
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
        for item in expected:
            if not (isinstance(item, str) or (isinstance(item, dict) and isinstance(item.get("doc"), str))):
                raise EvaluationFileError(
                    f'line {number}: each expected source is an entry key or {{"doc", "section"}}'
                )
        cases.append(Case(question, list(expected), str(data.get("kind", "")), context))
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
        found = [hit.document for hit in decision.hits]
        report.outcomes.append(Outcome(case, found, decision.outcome, found[:listed], seconds, decision.confidence))
    return report
