import json
from pathlib import Path
from typing import TypedDict, Unpack

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatapp.faq import formats
from chatapp.faq.analysis import Analyzer
from chatapp.faq.embeddings import Embedder, LocalEmbedder, configured_embedder
from chatapp.faq.evaluation import (
    ANSWERABLE_VERDICTS,
    UNANSWERABLE_VERDICTS,
    EvaluationFileError,
    evaluate,
    expected_matches,
    read_cases,
    source_json,
)
from chatapp.faq.index import Document, SearchIndex
from chatapp.faq.search import current_index

DATA = Path(__file__).resolve().parents[2] / "data"
SHIPPED = DATA / "sample_eval.jsonl"


def figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def folder_passages(folder: Path, first_id: int = 1) -> tuple[list[Document], list[str]]:
    """The passages of every document under `folder`, read as the worker reads them; and the files refused."""
    from chatapp.documents.processing import Refusal, read_file

    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder of documents")
    passages, refused = [], []
    number = first_id
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        read = read_file(path, path.name, lambda done, total: None)
        if isinstance(read, Refusal):
            refused.append(f"{path.name}: {read.message}")
            continue
        for passage in read.passages:
            passages.append(
                Document.passage(
                    -number, read.title or path.stem, path.name, passage.heading_path, passage.page, passage.text
                )
            )
            number += 1
    return passages, refused


def file_entries(path: Path) -> list[Document]:
    try:
        rows = formats.read(path.read_text(encoding="utf-8"), formats.format_of(path.name))
    except (OSError, ValueError) as error:
        raise CommandError(f"Cannot read {path}: {error}") from None
    return [
        Document(number, row["key"], row["question"], row["answer"], row.get("phrasings", []), row.get("tags", []))
        for number, (_, row) in enumerate(rows, 1)
        if not isinstance(row, Exception) and row.get("status", "published") == "published"
    ]


def file_index(path: Path, embedder: Embedder | None = None) -> SearchIndex:
    """An index of the entries in a knowledge-base file, in memory: the database is not touched."""
    return SearchIndex(file_entries(path), embedder=embedder)


class Options(TypedDict):
    file: str
    knowledge_base: str | None
    documents: str | None
    json: str | None
    min_recall_at_1: float
    min_recall_at_3: float
    min_mrr: float
    min_found: float
    max_wrong: float
    max_answered_anyway: float
    embeddings: str
    no_synonyms: bool
    details: bool


class Command(BaseCommand):
    help = (
        "Measure retrieval and the answer / not sure / not covered decision on a JSONL file of questions "
        "with expected entry keys; fails below the thresholds given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", default=str(SHIPPED), help="JSONL file (default: the shipped one).")
        parser.add_argument(
            "--knowledge-base",
            metavar="FILE",
            help="Evaluate on the entries of this .md/.csv/.json file instead of the published ones (nothing is saved).",
        )
        parser.add_argument(
            "--documents",
            metavar="DIR",
            help="Evaluate on the documents in this folder (with --knowledge-base: both), read in memory; "
            "nothing is saved.",
        )
        parser.add_argument(
            "--json", metavar="FILE", help="Write one JSON line per question: its outcome, sources and answer."
        )
        parser.add_argument("--min-recall-at-1", type=float, default=0.0)
        parser.add_argument("--min-recall-at-3", type=float, default=0.0)
        parser.add_argument("--min-mrr", type=float, default=0.0)
        parser.add_argument(
            "--min-found",
            type=float,
            default=0.0,
            help="Answerable questions answered right or with the right entry listed.",
        )
        parser.add_argument(
            "--max-wrong", type=float, default=1.0, help="Answerable questions answered with a wrong entry."
        )
        parser.add_argument(
            "--max-answered-anyway", type=float, default=1.0, help="Unanswerable questions answered as if covered."
        )
        parser.add_argument(
            "--embeddings",
            choices=["configured", "local", "none"],
            default="configured",
            help="With --knowledge-base: embed with FAQ_EMBEDDINGS_URL (configured), the CPU model in this "
            "process (local), or not at all (none, lexical retrieval).",
        )
        parser.add_argument("--no-synonyms", action="store_true", help="Measure without the synonym list.")
        parser.add_argument("--details", action="store_true", help="Print each question that was not answered right.")

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        path = Path(options["file"])
        try:
            cases = read_cases(path.read_text(encoding="utf-8").splitlines())
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from None
        except EvaluationFileError as error:
            raise CommandError(f"{path}: {error}") from None
        embedder = {"configured": configured_embedder, "local": LocalEmbedder, "none": lambda: None}[
            options["embeddings"]
        ]()
        if options["knowledge_base"] or options["documents"]:
            sources = file_entries(Path(options["knowledge_base"])) if options["knowledge_base"] else []
            if options["documents"]:
                passages, refused = folder_passages(Path(options["documents"]))
                for line in refused:
                    self.stdout.write(self.style.WARNING(f"Refused {line}"))
                sources += passages
            index = SearchIndex(sources, embedder=embedder)
        else:
            index = current_index.get()
        if options["no_synonyms"]:
            index = SearchIndex(
                index.documents, analyzer=Analyzer(use_synonyms=False), embedder=index.embedder, vectors=index.vectors
            )
        if not index.documents:
            raise CommandError("No published entries: load some first (load_sample_faq or faq_import).")
        report = evaluate(cases, index)

        write = self.stdout.write
        unmatched = sorted(
            {
                json.dumps(expected)
                for case in cases
                for expected in case.expected
                if not any(expected_matches(expected, document) for document in index.documents)
            }
        )
        if unmatched:
            write(self.style.WARNING(f"Expected sources not in the knowledge base: {', '.join(unmatched)}"))
        mode = "hybrid (lexical + embeddings)" if index.vectors is not None else "lexical"
        passage_count = sum(document.is_passage for document in index.documents)
        write(
            f"{len(cases)} questions ({len(report.answerable)} answerable, {len(report.unanswerable)} not), "
            f"{len(index.documents) - passage_count} entries, {passage_count} passages, {mode} ranking"
        )
        write(f"decision: {index.calibration.describe()}")
        recall_1, recall_3, mrr = report.recall_at(1), report.recall_at(3), report.mrr()
        write(f"recall@1 {figure(recall_1)}   recall@3 {figure(recall_3)}   MRR {figure(mrr)}")
        write("answerable questions:")
        for verdict in ANSWERABLE_VERDICTS:
            write(f"  {verdict:<20} {figure(report.share(verdict))}")
        found = report.found()
        write(f"  right entry answered or listed: {figure(found)}")
        write("unanswerable questions:")
        for verdict in UNANSWERABLE_VERDICTS:
            write(f"  {verdict:<20} {figure(report.share(verdict))}")
        latencies = report.latencies()
        write(
            f"latency: median {latencies[len(latencies) // 2] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms per question"
        )
        write("by kind (questions: recall@1 / answered right / right answered or listed / answered wrongly or anyway):")
        for kind, outcomes in report.by_kind().items():
            wrong = sum(o.verdict in ("answered wrong", "answered anyway") for o in outcomes) / len(outcomes)
            if outcomes[0].case.expected:
                write(
                    f"  {kind:<13} {len(outcomes):>3}: {figure(report.recall_at(1, outcomes))} / "
                    f"{figure(report.share('answered right', outcomes))} / {figure(report.found(outcomes))} / {figure(wrong)}"
                )
            else:
                write(
                    f"  {kind:<13} {len(outcomes):>3}: declined {figure(report.share('declined', outcomes))}, "
                    f"unsure {figure(report.share('unsure', outcomes))}, answered anyway {figure(wrong)}"
                )
        by_source = report.by_source()
        if len(by_source) > 1:
            write("by source (questions: answered right / answered wrong / right answered or listed):")
            for name, outcomes in by_source.items():
                write(
                    f"  {name:<13} {len(outcomes):>3}: {figure(report.share('answered right', outcomes))} / "
                    f"{figure(report.share('answered wrong', outcomes))} / {figure(report.found(outcomes))}"
                )
        if options["json"]:
            with open(options["json"], "w", encoding="utf-8") as output:
                for outcome in report.outcomes:
                    output.write(json.dumps(outcome.as_json(), ensure_ascii=False) + "\n")
            write(f"wrote {len(report.outcomes)} lines to {options['json']}")
        if options["details"]:
            for outcome in report.outcomes:
                if outcome.verdict not in ("answered right", "declined"):
                    context = f" (after {outcome.case.context!r})" if outcome.case.context else ""
                    write(
                        f"  {outcome.verdict.upper()}: {outcome.case.question!r}{context}: expected "
                        f"{outcome.case.expected or 'not covered'}, listed "
                        f"{[source_json(document) for document in outcome.listed]} (p={outcome.confidence:.2f})"
                    )

        answered_wrong, anyway = report.share("answered wrong"), report.share("answered anyway")
        failures = [
            f"{name} {value:.3f} < {minimum}"
            for name, value, minimum in [
                ("recall@1", recall_1, options["min_recall_at_1"]),
                ("recall@3", recall_3, options["min_recall_at_3"]),
                ("MRR", mrr, options["min_mrr"]),
                ("right entry answered or listed", found, options["min_found"]),
            ]
            if value is not None and value < minimum
        ] + [
            f"{name} {value:.3f} > {maximum}"
            for name, value, maximum in [
                ("answered wrong", answered_wrong, options["max_wrong"]),
                ("answered anyway", anyway, options["max_answered_anyway"]),
            ]
            if value is not None and value > maximum
        ]
        if failures:
            raise CommandError("Thresholds missed: " + "; ".join(failures))
        write(self.style.SUCCESS("All thresholds met."))
