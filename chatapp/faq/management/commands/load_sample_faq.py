from pathlib import Path
from typing import TypedDict, Unpack

from django.core.management.base import BaseCommand, CommandParser

from chatapp.faq.actions import import_text
from chatapp.faq.models import FAQEntry

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample_faq.md"


class Options(TypedDict):
    if_empty: bool


class Command(BaseCommand):
    help = "Load the sample knowledge base (a small software team's FAQ)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when any entry exists.")

    def handle(self, *args: str, **options: Unpack[Options]) -> None:
        if options["if_empty"] and FAQEntry.objects.exists():
            self.stdout.write("The knowledge base has entries already; the sample was not loaded.")
            return
        report = import_text(SAMPLE.read_text(encoding="utf-8"), "md")
        for where, message in report.errors:
            self.stderr.write(f"{SAMPLE.name}, {where}: {message}")
        self.stdout.write(f"Sample knowledge base: {report}")
