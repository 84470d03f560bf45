from pathlib import Path
from typing import TypedDict, Unpack

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatapp.faq import formats
from chatapp.faq.actions import import_text


class Options(TypedDict):
    file: str
    format: str | None


class Command(BaseCommand):
    help = "Create or update FAQ entries from a CSV, JSON or Markdown file (matched by key; safe to re-run)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--format", choices=formats.FORMATS, help="Default: from the file name's extension.")

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        path = Path(options["file"])
        try:
            file_format = options["format"] or formats.format_of(path.name)
            text = path.read_text(encoding="utf-8-sig")
        except ValueError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}") from None
        report = import_text(text, file_format)
        for where, message in report.errors:
            self.stderr.write(f"{path.name}, {where}: {message}")
        self.stdout.write(f"{path.name}: {report}")
        if report.errors and not (report.created or report.updated or report.unchanged):
            raise CommandError("No entry could be imported.")
