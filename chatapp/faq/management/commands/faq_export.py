from typing import TypedDict, Unpack

from django.core.management.base import BaseCommand, CommandParser

from chatapp.faq import formats
from chatapp.faq.models import FAQEntry


class Options(TypedDict):
    format: str
    status: str
    output: str | None


class Command(BaseCommand):
    help = "Write the FAQ entries as CSV, JSON or Markdown (to standard output unless --output is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=formats.FORMATS, default="md")
        parser.add_argument("--status", choices=[*FAQEntry.Status.values, "all"], default="all")
        parser.add_argument("--output", help="File to write.")

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        entries = FAQEntry.objects.order_by("key")
        if options["status"] != "all":
            entries = entries.filter(status=options["status"])
        text = formats.write(entries, options["format"])
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as file:
                file.write(text)
            self.stderr.write(f"{entries.count()} entries written to {options['output']}")
        else:
            self.stdout.write(text, ending="")
