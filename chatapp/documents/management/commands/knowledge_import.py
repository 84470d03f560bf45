from pathlib import Path
from typing import TypedDict, Unpack

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatapp.documents import actions
from chatapp.documents.actions import Outcome
from chatapp.documents.models import Document


class Options(TypedDict):
    paths: list[str]
    prune: bool
    now: bool


class Command(BaseCommand):
    help = (
        "Add documents (PDF, Word, HTML, Markdown, text) from files and folders, recursively. "
        "Safe to re-run: unchanged files are skipped, changed ones processed again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", help="Files or folders.")
        parser.add_argument("--prune", action="store_true", help="Remove documents whose files under PATHS are gone.")
        parser.add_argument(
            "--now", action="store_true", help="Process here and wait, instead of in the background worker."
        )

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        paths = [Path(path) for path in options["paths"]]
        for path in paths:
            if not path.exists():
                raise CommandError(f"{path}: no such file or folder")
        results, pruned = actions.import_paths(paths, prune=options["prune"], queue=not options["now"])
        counts = {outcome: 0 for outcome in Outcome}
        for result in results:
            counts[result.outcome] += 1
            if result.outcome == Outcome.REFUSED:
                self.stderr.write(f"{result.name}: {result.error}")
            elif options["now"] and result.outcome != Outcome.UNCHANGED and result.document is not None:
                processed = actions.process(result.document.pk)
                if processed is not None and processed.status == Document.Status.FAILED:
                    self.stderr.write(f"{result.name}: {processed.error}")
                    counts[Outcome.REFUSED] += 1
        for title in pruned:
            self.stdout.write(f"removed: {title}")
        summary = ", ".join(f"{count} {outcome.value}" for outcome, count in counts.items())
        self.stdout.write(
            f"{summary}, {len(pruned)} removed" + ("" if options["now"] else " (processing in the background)")
        )
        if results and counts[Outcome.REFUSED] == len(results):
            raise CommandError("No document could be imported.")
