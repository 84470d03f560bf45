"""Knowledge base files: CSV, JSON and Markdown, read into rows and written from entries.

A row is a dict with `key`, `question`, `answer`, `phrasings` (list), `tags`
(list) and `status`; any of them may be missing. Readers yield
`(where, row)` pairs, `where` being what a person needs to find the row in
the file ("line 12", "row 3"); a row that cannot be read at all is yielded
as a `RowError` so the other rows still import.

Markdown: one `##` heading per question. Optional lines right under the
heading give the entry's fields, the answer follows the first blank line:

    ## How do I get VPN access?
    Key: vpn-access
    Tags: vpn, remote
    Also asked: Connect from home | Request a VPN account
    Status: published

    Open a ticket in the IT Help board...
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Literal, TypedDict

from markdown_it import MarkdownIt

if TYPE_CHECKING:
    from chatapp.faq.models import FAQEntry

FORMATS = ("csv", "json", "md")
FIELDS = ("key", "question", "answer", "phrasings", "tags", "status")
TEXT_FIELDS: tuple[Literal["key", "question", "answer", "status"], ...] = ("key", "question", "answer", "status")


class Row(TypedDict, total=False):
    """An entry as a file holds it; every field may be missing."""

    key: str
    question: str
    answer: str
    phrasings: list[str]
    tags: list[str]
    status: str


# A row as read, with where it is in the file; a row that could not be read is its error.
Rows = Iterator[tuple[str, "Row | RowError"]]
PHRASING_SEPARATOR = " | "
MARKDOWN_FIELDS = {"key": "key", "tags": "tags", "also asked": "phrasings", "status": "status"}


class RowError(Exception):
    pass


def format_of(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower()
    if suffix in ("md", "markdown"):
        return "md"
    if suffix in FORMATS:
        return suffix
    raise ValueError(f"Unknown file type {suffix!r}: use .csv, .json or .md.")


def as_list(value: object, separator: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(separator) if separator != "\n" else value.splitlines()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RowError("expected text or a list of texts")
    return [item.strip() for item in value if item.strip()]


def normalise(row: Mapping[str, object]) -> Row:
    """A row from any format with lists where lists belong; raises RowError."""
    unknown = set(row) - set(FIELDS)
    if unknown:
        raise RowError(f"unknown field(s): {', '.join(sorted(unknown))}")
    clean: Row = {}
    for name in TEXT_FIELDS:
        value = row.get(name)
        if value is not None and not isinstance(value, str):
            raise RowError(f"{name}: expected text")
        if value is not None:
            clean[name] = value.strip()
    try:
        if "phrasings" in row:
            clean["phrasings"] = as_list(row["phrasings"], "\n")
        if "tags" in row:
            clean["tags"] = as_list(row["tags"], ",")
    except RowError as error:
        raise RowError(f"phrasings/tags: {error}") from None
    return clean


# --- reading -----------------------------------------------------------------


def read_csv(text: str) -> Rows:
    reader = csv.DictReader(io.StringIO(text))
    missing = {"question"} - set(reader.fieldnames or [])
    if missing:
        yield "header", RowError("the first line must name the columns, including 'question'")
        return
    for row in reader:
        where = f"line {reader.line_num}"
        if None in row:
            yield where, RowError("more cells than columns")
            continue
        row = {name: value for name, value in row.items() if value is not None}
        # Phrasings may be one per line inside the cell, or separated by " | ".
        if "phrasings" in row:
            row["phrasings"] = row["phrasings"].replace(PHRASING_SEPARATOR, "\n")
        try:
            yield where, normalise(row)
        except RowError as error:
            yield where, error


def read_json(text: str) -> Rows:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        yield "file", RowError(f"not valid JSON: {error}")
        return
    if isinstance(data, dict):
        data = data.get("entries")
    if not isinstance(data, list):
        yield "file", RowError('expected a list of entries (or {"entries": [...]})')
        return
    for number, row in enumerate(data, 1):
        where = f"entry {number}"
        if not isinstance(row, dict):
            yield where, RowError("expected an object")
            continue
        try:
            yield where, normalise(row)
        except RowError as error:
            yield where, error


def markdown_sections(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, heading, body lines) for each top-level `##` heading."""
    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").parse(text)
    headings = []
    for index, token in enumerate(tokens):
        # Level 0 leaves out headings quoted or inside lists; fenced code never yields headings.
        if token.type == "heading_open" and token.tag == "h2" and token.level == 0:
            assert token.map is not None  # block tokens always carry their lines
            headings.append((token.map[0], token.map[1], tokens[index + 1].content.strip()))
    for position, (start, end, heading) in enumerate(headings):
        stop = headings[position + 1][0] if position + 1 < len(headings) else len(lines)
        yield start + 1, heading, lines[end:stop]


def read_markdown(text: str) -> Rows:
    for line_number, heading, body in markdown_sections(text):
        where = f"line {line_number}"
        row = {"question": heading}
        position = 0
        while position < len(body) and body[position].strip():
            name, colon, value = body[position].partition(":")
            field = MARKDOWN_FIELDS.get(name.strip().lower())
            if not colon or field is None:
                break
            row[field] = value.strip()
            position += 1
        if "phrasings" in row:
            row["phrasings"] = row["phrasings"].replace(PHRASING_SEPARATOR.strip(), "\n")
        row["answer"] = "\n".join(body[position:]).strip()
        try:
            yield where, normalise(row)
        except RowError as error:
            yield where, error


READERS: dict[str, Callable[[str], Rows]] = {"csv": read_csv, "json": read_json, "md": read_markdown}


def read(text: str, file_format: str) -> Rows:
    return READERS[file_format](text)


# --- writing -----------------------------------------------------------------


def entry_row(entry: FAQEntry) -> Row:
    return {
        "key": entry.key,
        "question": entry.question,
        "answer": entry.answer,
        "phrasings": entry.phrasing_list,
        "tags": entry.tag_list,
        "status": entry.status,
    }


def write_csv(entries: Iterable[FAQEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for entry in entries:
        row = entry_row(entry)
        # A cell holds text: one phrasing a line, tags separated by commas.
        writer.writerow({**row, "phrasings": "\n".join(row["phrasings"]), "tags": ", ".join(row["tags"])})
    return buffer.getvalue()


def write_json(entries: Iterable[FAQEntry]) -> str:
    return json.dumps([entry_row(entry) for entry in entries], ensure_ascii=False, indent=2) + "\n"


def write_markdown(entries: Iterable[FAQEntry]) -> str:
    parts = ["# Team FAQ\n"]
    for entry in entries:
        row = entry_row(entry)
        # A heading is one line: keep the question on it whatever it holds.
        lines = [f"## {' '.join(row['question'].split())}", f"Key: {row['key']}"]
        if row["tags"]:
            lines.append(f"Tags: {', '.join(row['tags'])}")
        if row["phrasings"]:
            lines.append(f"Also asked: {PHRASING_SEPARATOR.join(row['phrasings'])}")
        lines.append(f"Status: {row['status']}")
        parts.append("\n".join(lines) + "\n\n" + row["answer"].strip() + "\n")
    return "\n".join(parts)


WRITERS: dict[str, Callable[[Iterable[FAQEntry]], str]] = {"csv": write_csv, "json": write_json, "md": write_markdown}
CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "md": "text/markdown"}


def write(entries: Iterable[FAQEntry], file_format: str) -> str:
    return WRITERS[file_format](entries)
