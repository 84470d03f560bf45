from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chatapp.faq.analysis import Analyzer
from chatapp.faq.evaluation import EvaluationFileError, evaluate, read_cases
from chatapp.faq.search import SearchIndex, current_index

SHIPPED = Path(__file__).resolve().parents[2] / "data" / "sample_eval.jsonl"


def percent(value):
    return "n/a" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "Measure retrieval on a JSONL file of questions and expected entry keys; fails below thresholds."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(SHIPPED), help="JSONL file (default: the shipped one).")
        parser.add_argument("--min-recall-at-1", type=float, default=0.0)
        parser.add_argument("--min-recall-at-3", type=float, default=0.0)
        parser.add_argument("--min-mrr", type=float, default=0.0)
        parser.add_argument("--min-not-covered", type=float, default=0.0, help="Share of unanswerable questions declined.")
        parser.add_argument("--min-score", type=float, default=None, help="Coverage threshold (default FAQ_MIN_SCORE).")
        parser.add_argument("--no-synonyms", action="store_true", help="Measure without the synonym list.")
        parser.add_argument("--sweep", action="store_true", help="Print not-covered and declined rates per threshold.")
        parser.add_argument("--details", action="store_true", help="Print each question that missed.")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            cases = read_cases(path.read_text(encoding="utf-8").splitlines())
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from None
        except EvaluationFileError as error:
            raise CommandError(f"{path}: {error}") from None
        index = current_index.get()
        if options["no_synonyms"]:
            index = SearchIndex(index.documents, analyzer=Analyzer(use_synonyms=False), embedder=index.embedder)
        if not index.documents:
            raise CommandError("No published entries: load some first (load_sample_faq or faq_import).")
        min_score = settings.FAQ_MIN_SCORE if options["min_score"] is None else options["min_score"]
        report = evaluate(cases, index, min_score=min_score)

        write = self.stdout.write
        known = {document.key for document in index.documents}
        unknown = sorted({key for case in cases for key in case.expected} - known)
        if unknown:
            write(self.style.WARNING(f"Expected keys not among the published entries: {', '.join(unknown)}"))
        mode = "hybrid (lexical + embeddings)" if index.vectors is not None else "lexical"
        write(f"{len(cases)} questions ({len(report.answerable)} answerable, {len(report.unanswerable)} not), "
              f"{len(index.documents)} entries, {mode} ranking, coverage threshold {min_score}")
        recall_1, recall_3, mrr = report.recall_at(1), report.recall_at(3), report.mrr()
        not_covered, declined = report.not_covered_rate(), report.declined_rate()
        write(f"recall@1     {percent(recall_1)}")
        write(f"recall@3     {percent(recall_3)}")
        write(f"MRR          {percent(mrr)}")
        write(f"not covered  {percent(not_covered)}  (unanswerable questions declined)")
        write(f"declined     {percent(declined)}  (answerable questions wrongly declined)")
        latencies = report.latencies()
        write(f"latency      median {latencies[len(latencies) // 2] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms per question")
        write("by kind (recall@1 / recall@3 / declined):")
        for kind, outcomes in report.by_kind().items():
            refused = sum(1 for o in outcomes if o.best_score < min_score) / len(outcomes)
            write(f"  {kind:<12} {len(outcomes):>3}  {percent(report.recall_at(1, outcomes))} / "
                  f"{percent(report.recall_at(3, outcomes))} / {percent(refused)}")
        if options["sweep"]:
            write("threshold  not-covered  declined")
            for step in range(2, 21):
                threshold = step / 10
                write(f"  {threshold:<8} {percent(report.not_covered_rate(threshold)):>10}  "
                      f"{percent(report.declined_rate(threshold)):>8}")
        if options["details"]:
            for outcome in report.outcomes:
                declined = outcome.best_score < min_score
                wrong = (outcome.rank() or 99) > 1 or declined if outcome.case.expected else not declined
                if wrong:
                    write(f"  {'DECLINED' if declined and outcome.case.expected else 'MISS'} {outcome.case.question!r}: expected {outcome.case.expected or 'not covered'}, "
                          f"got {outcome.ranked[:3]} (score {outcome.best_score})")

        failures = [
            f"{name} {value:.3f} < {minimum}"
            for name, value, minimum in [
                ("recall@1", recall_1, options["min_recall_at_1"]),
                ("recall@3", recall_3, options["min_recall_at_3"]),
                ("MRR", mrr, options["min_mrr"]),
                ("not covered", not_covered, options["min_not_covered"]),
            ]
            if value is not None and value < minimum
        ]
        if failures:
            raise CommandError("Below threshold: " + "; ".join(failures))
        write(self.style.SUCCESS("All thresholds met."))
