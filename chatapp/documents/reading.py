"""Reading a document file into passages, in a process of its own.

Documents are untrusted input. Everything that parses one runs here, in a child
process started by `chatapp.documents.processing` with a time limit and a
memory limit, so a file that loops, explodes or crashes its parser costs that
child only, never the worker. This module imports nothing of Django or of the
app: it starts fast and can be run as a script.

The child prints JSON lines on its standard output: `{"progress": [done, total]}`
while it reads, then one `{"result": {...}}` or `{"refused": {"reason", "detail"}}`.

Each format is read by a maintained library (pypdf, python-docx, selectolax,
markdown-it-py) into blocks: headings, text and tables, with the page they are on;
`passages_from` then cuts the blocks into passages by their structure.
"""

from __future__ import annotations

import enum
import io
import json
import re
import sys
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:
    from pypdf import PdfReader

HEADING_SEPARATOR = " › "


class Reason(enum.StrEnum):
    """Why a file was refused; `chatapp.documents.processing` words each for people."""

    ENCRYPTED = "encrypted"
    NO_TEXT = "no_text"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    TOO_MANY_PAGES = "too_many_pages"
    TOO_MANY_PASSAGES = "too_many_passages"
    UNSUPPORTED = "unsupported"
    UNSAFE = "unsafe"
    TOO_SLOW = "too_slow"


class Refused(Exception):
    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(detail or reason.value)
        self.reason = reason
        self.detail = detail


@dataclass
class Limits:
    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 2000
    max_passages: int = 5000
    # A DOCX is a zip: its parts, decompressed, may not exceed this.
    max_unpacked_bytes: int = 200 * 1024 * 1024
    # XML a Word file may hold: parsed, XML takes about 15 times its size in memory.
    max_xml_bytes: int = 128 * 1024 * 1024
    passage_words: int = 220


@dataclass
class Block:
    kind: str  # "heading", "text" or "table"
    text: str
    level: int = 0
    page: int | None = None


@dataclass
class Reading:
    title: str
    blocks: list[Block]
    pages: int = 0


@dataclass
class PassageText:
    heading_path: str
    page: int | None
    text: str
    headings: list[str] = field(default_factory=list)


Progress = Callable[[int, int], None]


class PassageFields(TypedDict):
    """A `PassageText` on the child's standard output."""

    heading_path: str
    page: int | None
    text: str
    headings: list[str]


class ReadResult(TypedDict):
    format: str
    title: str
    pages: int
    passages: list[PassageFields]


class RefusedResult(TypedDict):
    reason: str
    detail: str


class ChildMessage(TypedDict, total=False):
    """One JSON line of the child's output: exactly one of these keys."""

    progress: list[int]
    result: ReadResult
    refused: RefusedResult


def no_progress(done: int, total: int) -> None:
    pass


# --- formats -----------------------------------------------------------------------------


def detect_format(name: str, data: bytes) -> str:
    """pdf, docx, html, markdown or text, from the file's first bytes and its name."""
    suffix = name.lower().rsplit(".", 1)[-1] if "." in name else ""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        if suffix == "docx":
            return "docx"
        raise Refused(Reason.UNSUPPORTED, "a zip file that is not a Word document")
    if suffix in {"pdf", "docx"}:
        # The name promises a binary format the bytes are not.
        raise Refused(Reason.CORRUPT, f"not a valid .{suffix} file")
    if suffix in {"html", "htm", "xhtml"}:
        return "html"
    if suffix in {"md", "markdown"}:
        return "markdown"
    if suffix in {"txt", "text", ""}:
        return "text"
    raise Refused(Reason.UNSUPPORTED, f".{suffix} files")


def decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise Refused(Reason.UNSUPPORTED, "binary data, not text")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def clean(text: str) -> str:
    return " ".join(text.split())


def table_block(rows: list[list[str]], page: int | None = None) -> Block:
    """Rows of cells as a Markdown (GFM) table, the first row its header: a quoted answer
    shows it as a table, and the document page draws it as one."""
    width = max(len(row) for row in rows)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in [*cells, *[""] * (width - len(cells))]) + " |"

    text = "\n".join([line(rows[0]), "| " + " | ".join(["---"] * width) + " |", *map(line, rows[1:])])
    return Block("table", text, page=page)


# PDF ---------------------------------------------------------------------------------------

PAGE_NUMBER = re.compile(r"^(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?$", re.IGNORECASE)
NUMBERED_HEADING = re.compile(r"^(\d{1,2}(\.\d{1,2}){0,3}\.?)\s+[A-Z][^.!?:;]{1,80}$")


def outline_of(reader: PdfReader) -> list[tuple[str, int, int]]:
    """(title, level, page index) of the PDF's bookmarks, in order."""
    from pypdf.generic import Destination

    found: list[tuple[str, int, int]] = []

    def walk(items: Sequence[object], level: int) -> None:
        for item in items:
            if len(found) > 5000:
                return
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            if not isinstance(item, Destination):  # pypdf's outline holds nothing else
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # a bookmark to nowhere: ignore it, not the file
                continue
            if page is not None and page >= 0 and item.title:
                found.append((clean(str(item.title)), level, page))

    try:
        walk(reader.outline, 1)
    except Exception:
        return []
    return found


def repeated_lines(pages: list[list[str]]) -> set[str]:
    """Lines at the top or bottom of most pages: running headers and footers."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        depth = 2 if len(lines) > 6 else 1
        edge = {normalise_edge(line) for line in lines[:depth] + lines[-depth:]}
        counts.update(edge)
    return {line for line, count in counts.items() if count >= max(2, len(pages) // 2)}


def normalise_edge(line: str) -> str:
    # Numbers change from page to page in short running lines ("Page 3 of 40"), not in body text.
    text = clean(line).lower()
    return re.sub(r"\d+", "#", text) if len(text) < 50 else text


def read_pdf(data: bytes, limits: Limits, progress: Progress) -> Reading:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many PDFs are encrypted with an empty password only to set permissions.
            try:
                if not reader.decrypt(""):
                    raise Refused(Reason.ENCRYPTED)
            except (FileNotDecryptedError, NotImplementedError) as error:
                raise Refused(Reason.ENCRYPTED) from error
        count = len(reader.pages)
    except Refused:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        raise Refused(Reason.CORRUPT, str(error)[:200]) from error
    if count > limits.max_pages:
        raise Refused(Reason.TOO_MANY_PAGES, f"{count:,} pages; the limit is {limits.max_pages:,}")
    if count == 0:
        raise Refused(Reason.NO_TEXT, "no pages")
    metadata_title = ""
    try:
        metadata_title = clean(str(reader.metadata.get("/Title") or "")) if reader.metadata else ""
    except Exception:
        pass
    outline = outline_of(reader)
    pages: list[list[str]] = []
    for index, page in enumerate(reader.pages):
        try:
            text = page.extract_text(extraction_mode="layout") or ""
        except Exception:
            try:
                text = page.extract_text() or ""
            except Exception:
                text = ""
        pages.append([line.rstrip() for line in text.splitlines()])
        progress(index + 1, count)
    letters = sum(len(line.strip()) for lines in pages for line in lines)
    if letters < 20 * count and letters < 2000:
        raise Refused(Reason.NO_TEXT)
    boilerplate = repeated_lines([[line for line in lines if line.strip()] for lines in pages])
    headings_by_page: dict[int, list[tuple[str, int]]] = {}
    for title, level, page_index in outline:
        headings_by_page.setdefault(page_index, []).append((title, level))
    blocks: list[Block] = []
    for index, lines in enumerate(pages):
        blocks.extend(page_blocks(lines, index + 1, list(headings_by_page.get(index, [])), boilerplate, not outline))
    first_heading = next((block.text for block in blocks if block.kind == "heading"), "")
    title = metadata_title or (outline[0][0] if outline else "") or first_heading
    return Reading(title=title, blocks=blocks, pages=count)


def page_blocks(
    lines: list[str], number: int, pending: list[tuple[str, int]], boilerplate: set[str], numbered: bool
) -> list[Block]:
    """One page's blocks: bookmarked (or, without bookmarks, numbered) headings, tables and paragraphs,
    without its running header, footer and page number."""
    blocks: list[Block] = []
    paragraph: list[str] = []
    filled = [index for index, line in enumerate(lines) if line.strip()]
    depth = 2 if len(filled) > 6 else 1
    # Running headers and footers are only looked for where they run: at the page's edges.
    edges = set(filled[:depth] + filled[-depth:])
    for index, line in enumerate([*lines, ""]):
        stripped = clean(line)
        if not stripped:
            if paragraph:
                blocks.extend(pdf_block(paragraph, number))
                paragraph = []
            continue
        if PAGE_NUMBER.match(stripped) or (index in edges and normalise_edge(line) in boilerplate):
            continue
        heading = match_heading(stripped, pending)
        if heading is None and numbered and NUMBERED_HEADING.match(stripped) and len(stripped) < 90:
            heading = (stripped, stripped.split()[0].rstrip(".").count(".") + 2)
        elif heading is not None:
            pending.remove(heading)
        if heading is not None:
            if paragraph:
                blocks.extend(pdf_block(paragraph, number))
                paragraph = []
            blocks.append(Block("heading", heading[0], heading[1], number))
            continue
        paragraph.append(line)
    # Bookmarks whose words were not found on their page still open a section there, at its top.
    return [Block("heading", title, level, number) for title, level in pending] + blocks


def match_heading(line: str, pending: list[tuple[str, int]]) -> tuple[str, int] | None:
    lowered = line.lower()
    for heading in pending:
        if lowered == heading[0].lower():
            return heading
    return None


def pdf_block(lines: list[str], page: int) -> list[Block]:
    """A run of lines between blank lines: a table if its lines have columns, else text."""
    # A row has a few cells; a justified line spread word by word has many "gaps" instead.
    with_columns = sum(1 for line in lines if 2 <= len(re.split(r" {3,}", line.strip())) <= 8)
    if with_columns >= 2 and with_columns * 2 >= len(lines):
        return [table_block([[part.strip() for part in re.split(r" {3,}", line.strip())] for line in lines], page)]
    text = ""
    for line in lines:
        part = line.strip()
        if text.endswith("-") and part[:1].islower():
            text = text[:-1] + part
        else:
            text = f"{text} {part}" if text else part
    return [Block("text", clean(text), page=page)]


# DOCX --------------------------------------------------------------------------------------


def check_zip(data: bytes, limits: Limits) -> None:
    """A Word file is a zip: refuse bombs and XML that declares entities before any parser sees it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        raise Refused(Reason.CORRUPT, str(error)[:200]) from error
    if len(members) > 2000:
        raise Refused(Reason.UNSAFE, f"{len(members):,} parts inside")
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.max_unpacked_bytes:
        raise Refused(Reason.TOO_LARGE, f"{unpacked:,} bytes once unpacked")
    xml = sum(member.file_size for member in members if member.filename.endswith(".xml"))
    if xml > limits.max_xml_bytes:
        raise Refused(Reason.TOO_LARGE, f"{xml:,} bytes of XML would need more memory to read than allowed")
    for member in members:
        if not member.filename.endswith((".xml", ".rels")):
            continue
        try:
            with archive.open(member) as handle:
                head = handle.read(4096)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise Refused(Reason.CORRUPT, str(error)[:200]) from error
        # Word never writes a DTD: one is either a mistake or an entity attack.
        if b"<!DOCTYPE" in head.upper() or b"<!ENTITY" in head.upper():
            raise Refused(Reason.UNSAFE, "XML with a document type declaration")


def read_docx(data: bytes, limits: Limits, progress: Progress) -> Reading:
    check_zip(data, limits)
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as error:  # python-docx raises many kinds on a broken package
        raise Refused(Reason.CORRUPT, str(error)[:200]) from error
    blocks: list[Block] = []
    body = list(document.element.body.iterchildren())
    title = clean(document.core_properties.title or "")
    for index, element in enumerate(body):
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = Paragraph(element, document)
            text = clean(paragraph.text)
            if not text:
                continue
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            level = heading_level(style)
            if level is not None:
                if level == 0 and not title:
                    title = text
                blocks.append(Block("heading", text, max(level, 1)))
            elif style.startswith("List"):
                blocks.append(Block("text", f"- {text}"))
            else:
                blocks.append(Block("text", text))
        elif tag == "tbl":
            rows = []
            for row in Table(element, document).rows:
                cells: list[str] = []
                for cell in row.cells:
                    value = clean(cell.text)
                    # Merged cells repeat: keep each once.
                    if not cells or cells[-1] != value:
                        cells.append(value)
                rows.append(cells)
            if rows:
                blocks.append(table_block(rows))
        if index % 50 == 0:
            progress(index + 1, len(body))
    progress(len(body), len(body))
    if not title:
        title = next((block.text for block in blocks if block.kind == "heading"), "")
    return Reading(title=title, blocks=blocks)


def heading_level(style: str) -> int | None:
    if style == "Title":
        return 0
    match = re.match(r"Heading (\d)", style)
    return int(match.group(1)) if match else None


# HTML --------------------------------------------------------------------------------------

BOILERPLATE = (
    "script, style, noscript, template, nav, header, footer, aside, form, iframe, svg, button, "
    "[role=navigation], [role=banner], [role=contentinfo], [role=complementary], [aria-hidden=true], "
    ".breadcrumbs, .breadcrumb, #breadcrumbs, .cookie-banner, .skip-link"
)
HTML_BLOCKS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "table", "dt", "dd", "blockquote"}


def read_html(data: bytes, limits: Limits, progress: Progress) -> Reading:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode_text(data))
    title_node = tree.css_first("title")
    page_title = clean(title_node.text()) if title_node is not None else ""
    for node in tree.css(BOILERPLATE):
        node.decompose()
    root = tree.css_first("main") or tree.css_first("article") or tree.body
    if root is None:
        return Reading(title=page_title, blocks=[])
    blocks: list[Block] = []
    taken: set[int] = set()
    for node in root.traverse():
        tag = node.tag
        if tag not in HTML_BLOCKS or node.mem_id in taken:
            continue
        # A block inside one already taken (a paragraph in a list item) is part of it.
        for inner in node.traverse():
            taken.add(inner.mem_id)
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            text = clean(node.text(separator=" "))
            if text:
                blocks.append(Block("heading", text, int(tag[1])))
        elif tag == "table":
            caption = node.css_first("caption")
            if caption is not None and clean(caption.text()):
                blocks.append(Block("text", clean(caption.text())))
            table_rows = [[clean(cell.text(separator=" ")) for cell in row.css("th, td")] for row in node.css("tr")]
            table_rows = [cells for cells in table_rows if any(cells)]
            if table_rows:
                blocks.append(table_block(table_rows))
        else:
            text = clean(node.text(separator=" "))
            if text:
                blocks.append(Block("text", f"- {text}" if tag == "li" else text))
    if not blocks:
        text = root.text(separator="\n")
        blocks = [Block("text", clean(part)) for part in re.split(r"\n\s*\n", text) if clean(part)]
    first_heading = next((block.text for block in blocks if block.kind == "heading" and block.level == 1), "")
    return Reading(title=first_heading or page_title, blocks=blocks)


# Markdown ----------------------------------------------------------------------------------


FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.{0,4000}?)\n---[ \t]*\n", re.DOTALL)
FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*[\"']?(.+?)[\"']?[ \t]*$", re.MULTILINE)


def read_markdown(data: bytes, limits: Limits, progress: Progress) -> Reading:
    from markdown_it import MarkdownIt

    text = decode_text(data)
    # Static-site pages open with a block of metadata between "---" lines: its title is the
    # document's, the rest is not text to cite (Markdown would read it as a heading).
    front_title = ""
    front = FRONT_MATTER.match(text)
    if front:
        found = FRONT_MATTER_TITLE.search(front.group(1))
        front_title = clean(found.group(1)) if found else ""
        text = text[front.end() :]
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    blocks: list[Block] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open":
            blocks.append(Block("heading", clean(tokens[index + 1].content), int(token.tag[1])))
            index += 3
        elif token.type in {"paragraph_open"}:
            text = clean(tokens[index + 1].content.replace("**", "").replace("__", ""))
            if text:
                blocks.append(Block("text", f"- {text}" if token.hidden else text))
            index += 3
        elif token.type in {"fence", "code_block"}:
            if token.content.strip():
                blocks.append(Block("text", token.content.strip()))
            index += 1
        elif token.type == "table_open":
            rows: list[list[str]] = []
            while index < len(tokens) and tokens[index].type != "table_close":
                if tokens[index].type == "tr_open":
                    rows.append([])
                elif tokens[index].type == "inline" and rows:
                    rows[-1].append(clean(tokens[index].content))
                index += 1
            if rows:
                blocks.append(table_block(rows))
            index += 1
        else:
            index += 1
    title = front_title or next((block.text for block in blocks if block.kind == "heading" and block.level == 1), "")
    return Reading(title=title, blocks=blocks)


# Plain text --------------------------------------------------------------------------------

TEXT_HEADING = re.compile(r"^(\d{1,2}(\.\d{1,2})*\.?\s+)?[^a-z.!?]{3,80}$")


def read_text(data: bytes, limits: Limits, progress: Progress) -> Reading:
    text = decode_text(data).replace("\r\n", "\n")
    blocks: list[Block] = []
    for part in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in part.strip().splitlines() if line.strip()]
        if not lines:
            continue
        first = lines[0]
        # A short line in capitals (or numbered, in capitals) opens a section.
        if TEXT_HEADING.match(first) and any(ch.isalpha() for ch in first) and first.upper() == first:
            level = 1 if not blocks else 2
            blocks.append(Block("heading", first, level))
            lines = lines[1:]
        if lines and all(line.startswith(("- ", "* ")) for line in lines):
            blocks.extend(Block("text", f"- {line[2:].strip()}") for line in lines)
        elif lines:
            blocks.append(Block("text", " ".join(lines)))
    title = blocks[0].text if blocks and blocks[0].kind == "heading" else ""
    if title:
        # A title in capitals reads as a sentence: "Annual leave and shift swaps".
        title = title.capitalize() if title.isupper() else title
        blocks[0] = Block("heading", title, 1)
    return Reading(title=title, blocks=blocks)


READERS: dict[str, Callable[[bytes, Limits, Progress], Reading]] = {
    "pdf": read_pdf,
    "docx": read_docx,
    "html": read_html,
    "markdown": read_markdown,
    "text": read_text,
}


# --- passages ------------------------------------------------------------------------------

SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9£$€])")


def sentences(text: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(text) if part.strip()]


def words(text: str) -> int:
    # Table rules ("|", "---") are not words.
    return sum(1 for word in text.split() if any(character.isalnum() for character in word))


def pieces(block: Block, limit: int) -> Iterator[str]:
    """A block cut to at most about `limit` words: at sentence ends, or between table rows."""
    if words(block.text) <= limit:
        yield block.text
        return
    if block.kind == "table":
        # Each piece of a long table repeats its header (and the line under it).
        rows = block.text.split("\n")
        header = rows[:2]
        chunk = list(header)
        for row in rows[2:]:
            if words("\n".join(chunk)) + words(row) > limit and len(chunk) > 2:
                yield "\n".join(chunk)
                chunk = list(header)
            chunk.append(row)
        yield "\n".join(chunk)
        return
    chunk_text = ""
    for sentence in sentences(block.text):
        if chunk_text and words(chunk_text) + words(sentence) > limit:
            yield chunk_text
            chunk_text = ""
        chunk_text = f"{chunk_text} {sentence}".strip()
    if chunk_text:
        yield chunk_text


def passages_from(reading: Reading, limits: Limits) -> list[PassageText]:
    """Cut the blocks into passages: a new one at every heading, and before one grows past
    `limits.passage_words`; never inside a sentence or a table row."""
    title = reading.title.lower()
    stack: list[tuple[int, str]] = []
    found: list[PassageText] = []
    buffer: list[str] = []
    page: int | None = None

    def heading_path() -> list[str]:
        return [text for _, text in stack]

    def flush() -> None:
        nonlocal page
        if buffer:
            found.append(PassageText(HEADING_SEPARATOR.join(heading_path()), page, "\n\n".join(buffer), heading_path()))
            if len(found) > limits.max_passages:
                raise Refused(Reason.TOO_MANY_PASSAGES, f"more than {limits.max_passages:,} passages")
        buffer.clear()
        page = None

    for block in reading.blocks:
        if block.kind == "heading":
            flush()
            # The document's own title heads every passage already (the citation names it).
            if block.text.lower() == title:
                continue
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.text))
            continue
        for piece in pieces(block, limits.passage_words):
            if buffer and words("\n\n".join(buffer)) + words(piece) > limits.passage_words:
                flush()
            if not buffer:
                page = block.page
            buffer.append(piece)
    flush()
    return found


def read(name: str, data: bytes, limits: Limits, progress: Progress = no_progress) -> ReadResult:
    """Everything the worker needs from a file: its format, title, pages and passages."""
    if len(data) > limits.max_bytes:
        raise Refused(Reason.TOO_LARGE, f"{len(data):,} bytes; the limit is {limits.max_bytes:,}")
    format = detect_format(name, data)
    try:
        reading = READERS[format](data, limits, progress)
    except (Refused, MemoryError):
        raise
    except RecursionError as error:
        raise Refused(Reason.CORRUPT, "structure nested too deeply") from error
    passages = passages_from(reading, limits)
    if not passages:
        raise Refused(Reason.NO_TEXT)
    return {
        "format": format,
        "title": reading.title[:300],
        "pages": reading.pages,
        "passages": [
            {"heading_path": p.heading_path, "page": p.page, "text": p.text, "headings": list(p.headings)}
            for p in passages
        ],
    }


def emit(message: ChildMessage) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(arguments: Iterable[str]) -> int:
    path, name, limits_json = list(arguments)
    limits = Limits(**json.loads(limits_json))
    last = [0.0]

    def report(done: int, total: int) -> None:
        import time

        now = time.monotonic()
        if now - last[0] > 0.5 or done == total:
            last[0] = now
            emit({"progress": [done, total]})

    with open(path, "rb") as handle:
        data = handle.read(limits.max_bytes + 1)
    try:
        emit({"result": read(name, data, limits, report)})
    except Refused as refused:
        emit({"refused": {"reason": refused.reason.value, "detail": refused.detail}})
    except MemoryError:
        emit({"refused": {"reason": Reason.TOO_LARGE.value, "detail": "needs too much memory to read"}})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
