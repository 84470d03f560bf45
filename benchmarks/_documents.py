"""Builds the PDF and Word files of the document sets from their Markdown sources.

The evaluation sets under chatapp/documents/data/ hold PDF and DOCX files made
from Markdown sources (chatapp/documents/data/sources/<set>/), so the files'
content can be read and reviewed in the repository. The PDFs carry a repeated
page header and footer (boilerplate the reader must drop) and an outline made
from the headings; the Word files use Word's heading and table styles.

    python -m benchmarks._documents            # rebuild every set's files
"""

import sys
from pathlib import Path

from docx import Document as WordDocument
from fpdf import FPDF
from markdown_it import MarkdownIt

DATA = Path(__file__).resolve().parent.parent / "chatapp" / "documents" / "data"

# Which source becomes which format, per set.
FORMATS = {
    "transit": {
        "driver-handbook": "pdf",
        "fares-and-tickets-2025": "pdf",
        "fleet-vehicle-guide": "pdf",
        "fares-and-tickets-2026": "docx",
        "depot-procedures": "docx",
        "accident-and-incident-reporting": "docx",
    },
    "brewery": {
        "cellar-handbook": "pdf",
        "cleaning-schedule": "docx",
    },
}

# The PDF core fonts speak Latin-1 only.
LATIN1 = str.maketrans({"–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "›": ">", "…": "..."})


def blocks(markdown: str) -> list[tuple[str, object]]:
    """("h1".."h6", text), ("p", text), ("li", text) and ("table", rows) in order."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    found: list[tuple[str, object]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open":
            found.append((token.tag, tokens[index + 1].content))
            index += 3
        elif token.type == "paragraph_open":
            inline = tokens[index + 1].content
            found.append(("li" if token.hidden else "p", inline))
            index += 3
        elif token.type == "table_open":
            rows: list[list[str]] = []
            while tokens[index].type != "table_close":
                if tokens[index].type == "tr_open":
                    rows.append([])
                elif tokens[index].type == "inline":
                    rows[-1].append(tokens[index].content)
                index += 1
            found.append(("table", rows))
            index += 1
        else:
            index += 1
    return found


class HandbookPDF(FPDF):
    def __init__(self, running_title: str) -> None:
        super().__init__(format="A4")
        self.running_title = running_title.translate(LATIN1)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 8, self.running_title, align="R")
        self.ln(12)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("Helvetica", "I", 8)
        self.cell(0, 10, f"Page {self.page_no()}", align="C")


def make_pdf(markdown: str, target: Path, page_break_level: str = "h2") -> None:
    found = blocks(markdown)
    title = next((str(text) for kind, text in found if kind == "h1"), target.stem)
    pdf = HandbookPDF(title)
    pdf.set_title(title)
    pdf.set_author("Eastmoor Buses")
    pdf.add_page()
    first_chapter = True
    for kind, content in found:
        if kind.startswith("h"):
            level = int(kind[1])
            if kind == page_break_level and not first_chapter:
                pdf.add_page()
            first_chapter = first_chapter and kind != page_break_level
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", {1: 18, 2: 14, 3: 12}.get(level, 11))
            text = str(content).translate(LATIN1)
            pdf.start_section(text, level=level - 1)
            pdf.multi_cell(0, 8, text)
            pdf.ln(1)
        elif kind == "table":
            pdf.set_font("Helvetica", "", 8)
            rows = [[cell.translate(LATIN1) for cell in row] for row in content]  # type: ignore[attr-defined]
            with pdf.table(first_row_as_headings=True, line_height=5) as table:
                for row in rows:
                    line = table.row()
                    for cell in row:
                        line.cell(cell)
            pdf.ln(3)
        else:
            pdf.set_font("Helvetica", "", 10)
            prefix = "- " if kind == "li" else ""
            pdf.multi_cell(0, 5, prefix + str(content).translate(LATIN1).replace("**", ""))
            pdf.ln(2)
    pdf.output(str(target))


def make_docx(markdown: str, target: Path) -> None:
    found = blocks(markdown)
    document = WordDocument()
    title = next((str(text) for kind, text in found if kind == "h1"), target.stem)
    document.core_properties.title = title
    document.core_properties.author = "Eastmoor Buses"
    for kind, content in found:
        if kind.startswith("h"):
            document.add_heading(str(content), level=int(kind[1]) - 1 if kind != "h1" else 0)
        elif kind == "table":
            rows = content  # type: ignore[assignment]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))  # type: ignore[arg-type]
            table.style = "Table Grid"
            for row_cells, row in zip(table.rows, rows, strict=True):  # type: ignore[arg-type]
                for cell, text in zip(row_cells.cells, row, strict=True):
                    cell.text = text
        elif kind == "li":
            document.add_paragraph(str(content).replace("**", ""), style="List Bullet")
        else:
            document.add_paragraph(str(content).replace("**", ""))
    document.save(str(target))


def build(set_name: str) -> list[Path]:
    made = []
    for stem, format in FORMATS[set_name].items():
        source = (DATA / "sources" / set_name / f"{stem}.md").read_text()
        target = DATA / set_name / f"{stem}.{format}"
        (make_pdf if format == "pdf" else make_docx)(source, target)
        made.append(target)
    return made


if __name__ == "__main__":
    for name in sys.argv[1:] or list(FORMATS):
        if (DATA / "sources" / name).is_dir():
            for path in build(name):
                print(path.relative_to(DATA))
