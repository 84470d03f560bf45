"""Documents made on the spot: small PDF, Word and zip files with known headings, pages and tables,
and processed documents stored without the worker."""

import io
import zipfile

from docx import Document as WordDocument
from fpdf import FPDF


def pdf_bytes(pages, title="Driver handbook", outline=True):
    """`pages`: a list of pages, each a list of ("h1" | "h2" | "p", text)."""
    pdf = FPDF()
    pdf.set_title(title)
    for page in pages:
        pdf.add_page()
        for kind, text in page:
            if kind.startswith("h"):
                pdf.set_font("Helvetica", "B", 14)
                if outline:
                    pdf.start_section(text, level=int(kind[1]) - 1)
                pdf.multi_cell(0, 8, text)
            else:
                pdf.set_font("Helvetica", "", 10)
                pdf.multi_cell(0, 5, text)
            pdf.ln(4)
    return bytes(pdf.output())


def docx_bytes(blocks, title="Depot procedures"):
    """`blocks`: ("h1" | "h2" | "p", text) or ("table", rows)."""
    document = WordDocument()
    document.core_properties.title = title
    for kind, content in blocks:
        if kind == "table":
            table = document.add_table(rows=len(content), cols=len(content[0]))
            for row, values in zip(table.rows, content, strict=True):
                for cell, value in zip(row.cells, values, strict=True):
                    cell.text = value
        elif kind.startswith("h"):
            document.add_heading(content, level=int(kind[1]))
        else:
            document.add_paragraph(content)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_bytes(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


REST_PERIODS = (
    "The rest between two duties is measured from signing off to signing on again. "
    "Between two normal duties the minimum rest is 11 hours. After a duty ending after midnight it is 12 hours."
)


def ready_document(title="Driver handbook", text=REST_PERIODS, heading="Rest periods", page=12, **fields):
    """A processed document with one passage, without the worker (for page and visibility tests)."""
    from django.core.files.base import ContentFile

    from chatapp.documents.models import Document

    document = Document(
        title=title,
        original_name="handbook.pdf",
        source_path=f"{title}.pdf",
        content_hash="0" * 64,
        format=Document.Format.PDF,
        **{"status": Document.Status.READY, **fields},
    )
    document.original.save("handbook.pdf", ContentFile(b"%PDF-1.4 test"), save=False)
    document.save()
    document.passages.create(position=0, heading_path=heading, page=page, anchor="rest-periods", text=text)
    return document
