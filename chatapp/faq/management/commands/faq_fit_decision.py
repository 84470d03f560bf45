"""Fit the decision's models on the development knowledge bases and write `data/decision.json`.

Each development set (a knowledge-base file and its questions) is indexed in
memory, lexically and with the CPU embeddings model in process; every question
is searched as the bot searches it, and its figures labelled by what a right
decision would be. Pooled, they fit the lexical and the hybrid models. Before
writing, each set is decided by models fitted on the other sets only, so the
figures printed are those of a knowledge base the models have not seen.
"""

import json
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
from django.core.management.base import BaseCommand, CommandParser

from chatapp.faq.analysis import is_follow_up
from chatapp.faq.decision import (
    COEFFICIENTS,
    HYBRID_FEATURES,
    LEXICAL_FEATURES,
    MAX_ANSWERED_UNCOVERED,
    MAX_ANSWERED_WRONG,
    CalibrationFigures,
    all_features,
    fit_calibration,
)
from chatapp.faq.embeddings import LocalEmbedder
from chatapp.faq.evaluation import read_cases
from chatapp.faq.index import SearchIndex
from chatapp.faq.management.commands.faq_eval import file_index, folder_passages

DATA = Path(__file__).resolve().parents[2] / "data"
DOCUMENT_DATA = Path(__file__).resolve().parents[3] / "documents" / "data"
# Development sets only: the theatre entries and the transit documents are frozen and never fitted on.
DEVELOPMENT = ("sample", "lab", "clinic", "documents:brewery")


# Each question's features, and whether its first source is right, a listed one is, and anything should answer it.
Samples = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def labelled(index: SearchIndex, lines: list[str], k: int = 3) -> Samples:
    rows, right, listed, answerable = [], [], [], []
    for case in read_cases(lines):
        earlier = case.context[-2:]
        context = " ".join(earlier) if earlier and is_follow_up(case.question) else ""
        retrieval = index.search(case.question, k=k, context=context)
        x = all_features(index, retrieval)
        if x is None:
            continue
        documents = [hit.document for hit in retrieval.hits]
        rows.append(x)
        right.append(bool(documents) and case.matches(documents[0]))
        listed.append(any(map(case.matches, documents)))
        answerable.append(bool(case.expected))
    return np.array(rows), np.array(right), np.array(listed), np.array(answerable)


def pooled_samples(sets: list[Samples]) -> Samples:
    rows, right, listed, answerable = (np.concatenate(parts) for parts in zip(*sets, strict=True))
    return rows, right, listed, answerable


class Limits(TypedDict):
    max_wrong: float
    max_uncovered: float


class Options(TypedDict):
    sets: list[str]
    output: str
    max_wrong: float
    max_anyway: float


class Command(BaseCommand):
    help = "Fit the answer / not sure / not covered models on the development sets and write them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sets", nargs="+", default=list(DEVELOPMENT))
        parser.add_argument("--output", default=str(COEFFICIENTS))
        parser.add_argument(
            "--max-wrong",
            type=float,
            default=MAX_ANSWERED_WRONG,
            help="Share of answerable questions the fitted threshold may answer with a wrong source.",
        )
        parser.add_argument(
            "--max-anyway",
            type=float,
            default=MAX_ANSWERED_UNCOVERED,
            help="Share of unanswerable questions the fitted threshold may answer.",
        )

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        embedder = LocalEmbedder()
        samples: dict[str, dict[str, Samples]] = {"lexical": {}, "hybrid": {}}
        for name in options["sets"]:
            if name.startswith("documents:"):
                folder = name.split(":", 1)[1]
                questions = (DOCUMENT_DATA / f"{folder}_eval.jsonl").read_text(encoding="utf-8").splitlines()
                hybrid = SearchIndex(folder_passages(DOCUMENT_DATA / folder)[0], embedder=embedder)
            else:
                questions = (DATA / f"{name}_eval.jsonl").read_text(encoding="utf-8").splitlines()
                hybrid = file_index(DATA / f"{name}_faq.md", embedder)
            lexical = SearchIndex(hybrid.documents, analyzer=hybrid.analyzer)
            samples["lexical"][name] = labelled(lexical, questions)
            samples["hybrid"][name] = labelled(hybrid, questions)
        output: dict[str, CalibrationFigures] = {}
        limits = Limits(max_wrong=options["max_wrong"], max_uncovered=options["max_anyway"])
        for kind, names in (("lexical", LEXICAL_FEATURES), ("hybrid", HYBRID_FEATURES)):
            self.stdout.write(
                f"{kind}: on a set the models were not fitted on "
                "(answered right / wrong / right answered or listed / anyway):"
            )
            for held in samples[kind]:
                pooled = [samples[kind][name] for name in samples[kind] if name != held]
                calibration = fit_calibration(*pooled_samples(pooled), names, "", **limits)
                rows, right, listed, answerable = samples[kind][held]
                x = calibration.select(rows)
                p_answer = calibration.answer.probability(x)
                answered = p_answer >= calibration.answer_threshold
                shown = np.maximum(calibration.cover.probability(x), p_answer) >= calibration.list_threshold
                found = (answered & right) | (~answered & shown & listed)
                self.stdout.write(
                    f"  {held:<8} {(answered & right)[answerable].mean():.3f} / "
                    f"{(answered & ~right)[answerable].mean():.3f} / {found[answerable].mean():.3f} / "
                    f"{answered[~answerable].mean():.3f}"
                )
            everything = pooled_samples(list(samples[kind].values()))
            calibration = fit_calibration(
                *everything, names, f"{len(everything[0])} questions of the {', '.join(samples[kind])} sets", **limits
            )
            self.stdout.write(f"  {calibration.describe()}")
            output[kind] = calibration.as_dict()
        Path(options["output"]).write_text(json.dumps(output, indent=1) + "\n", encoding="utf-8")
        self.stdout.write(self.style.SUCCESS(f"Wrote {options['output']}"))
