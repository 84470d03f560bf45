"""Files become passages by their structure; hostile files are refused with their reason.

Hostile files go through `processing.read_file`, the child process the worker
uses, so these tests show the worker's side survives them too.
"""

import io
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from chatapp.documents import processing
from chatapp.documents.reading import Limits, Reason, Refused, read
from tests.support.documents import REST_PERIODS, docx_bytes, pdf_bytes, zip_bytes

DEV_SET = Path(__file__).resolve().parents[2] / "chatapp" / "documents" / "data" / "brewery"


def passages(name, data, **limits):
    return read(name, data, Limits(**limits))["passages"]


def read_in_child(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return processing.read_file(path, name, lambda done, total: None)


# --- structure ---------------------------------------------------------------------------


def test_a_pdf_is_cut_at_its_bookmarked_headings_and_knows_each_passages_page(handbook_pdf):
    found = passages("handbook.pdf", handbook_pdf)

    rest = next(p for p in found if p["heading_path"].endswith("2.3 Rest periods"))
    assert rest["heading_path"] == "2 Duty and rest › 2.3 Rest periods"
    assert rest["page"] == 2
    assert "11 hours" in rest["text"]
    assert found[0]["page"] == 1


def test_a_pdf_without_bookmarks_is_cut_at_its_numbered_headings():
    data = pdf_bytes(
        [[("h1", "1 Introduction"), ("p", "Welcome aboard."), ("h1", "2 Rest periods"), ("p", REST_PERIODS)]],
        outline=False,
    )

    found = passages("handbook.pdf", data)

    assert [p["heading_path"] for p in found] == ["1 Introduction", "2 Rest periods"]


def test_running_headers_footers_and_page_numbers_of_a_pdf_are_dropped():
    from fpdf import FPDF

    class Running(FPDF):
        def header(self):
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 8, "Eastmoor Buses - Confidential")
            self.ln(10)

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", "I", 8)
            self.cell(0, 10, f"Page {self.page_no()} of 4")

    pdf = Running()
    for number in range(4):
        pdf.add_page()
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, f"Section {number} explains rule number {number} for drivers in full sentences.")
    text = " ".join(p["text"] for p in passages("running.pdf", bytes(pdf.output())))

    assert "Confidential" not in text
    assert "of 4" not in text
    assert "rule number 3" in text


def test_a_word_documents_headings_and_tables_are_kept(depot_docx):
    found = passages("depot.docx", depot_docx)

    depots = next(p for p in found if p["heading_path"] == "Our depots")
    assert "Depot | Open | Fuel bay" in depots["text"]
    assert "Riverside | 04:30 to 01:30 | Yes" in depots["text"]
    assert [p["heading_path"] for p in found] == ["Our depots", "Fuelling"]


def test_html_boilerplate_is_dropped_and_headings_nest():
    html = b"""<html><head><title>Lost property - intranet</title></head><body>
    <header><nav><a href="/">Home</a><a href="/news">News</a></nav></header>
    <main><h1>Lost property</h1><p>Passengers leave items on buses.</p>
    <h2>How long we keep items</h2><table><tr><th>Where</th><th>How long</th></tr><tr><td>Depot</td><td>2 days</td></tr></table>
    <h3>Bank cards</h3><p>Destroyed after 7 days.</p></main>
    <footer>Copyright 2026 - Privacy - Cookies</footer></body></html>"""

    result = read("lost.html", html, Limits())

    assert result["title"] == "Lost property"
    paths = [p["heading_path"] for p in result["passages"]]
    assert paths == ["", "How long we keep items", "How long we keep items › Bank cards"]
    text = " ".join(p["text"] for p in result["passages"])
    assert "Where | How long" in text and "Depot | 2 days" in text
    assert "Cookies" not in text and "News" not in text


def test_markdown_and_plain_text_are_cut_at_their_headings():
    markdown = b"# Ticket machine\n\nIntro.\n\n## Error codes\n\n| Code | Meaning |\n|---|---|\n| E01 | Paper out |\n"
    text = b"LEAVE AND SWAPS\n\n1. HOW MUCH LEAVE YOU GET\n\nDrivers get 28 days.\n\n2. SHIFT SWAPS\n\nAsk the duty office.\n"

    md = read("machine.md", markdown, Limits())
    txt = read("leave.txt", text, Limits())

    assert md["title"] == "Ticket machine"
    assert [p["heading_path"] for p in md["passages"]] == ["", "Error codes"]
    assert "E01 | Paper out" in md["passages"][1]["text"]
    assert [p["heading_path"] for p in txt["passages"]] == ["1. HOW MUCH LEAVE YOU GET", "2. SHIFT SWAPS"]


def test_long_sections_become_passages_of_a_few_hundred_words_ending_at_sentence_ends():
    sentences = [f"Rule {n} says that drivers check item {n} before they leave the depot." for n in range(200)]
    markdown = ("# Checks\n\n" + " ".join(sentences)).encode()

    found = passages("checks.md", markdown, passage_words=120)

    assert len(found) > 5
    assert all(len(p["text"].split()) <= 120 for p in found)
    assert all(p["text"].endswith("depot.") for p in found)
    assert " ".join(p["text"] for p in found) == " ".join(sentences)


def test_the_development_set_reads_in_every_format():
    formats = set()
    for path in sorted(DEV_SET.iterdir()):
        result = read(path.name, path.read_bytes(), Limits())
        formats.add(result["format"])
        assert result["title"], path.name
        assert result["passages"], path.name
    assert formats == {"pdf", "docx", "html", "markdown", "text"}


# --- hostile files -------------------------------------------------------------------------


def test_a_password_protected_pdf_is_refused_as_encrypted(tmp_path, handbook_pdf):
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(handbook_pdf)))
    writer.encrypt(user_password="secret", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)

    refusal = read_in_child(tmp_path, "locked.pdf", buffer.getvalue())

    assert refusal.reason == Reason.ENCRYPTED
    assert "password" in refusal.message


def test_a_scan_without_a_text_layer_is_refused_with_a_hint_to_run_ocr(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(3):
        pdf.add_page()
        pdf.image(Image.new("RGB", (200, 280), (240, 240, 240)), x=10, y=10, w=190)

    refusal = read_in_child(tmp_path, "scan.pdf", bytes(pdf.output()))

    assert refusal.reason == Reason.NO_TEXT
    assert "OCR" in refusal.message


@pytest.mark.parametrize(
    "name, data",
    [
        (
            "broken.pdf",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        ),
        ("random.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 40),
        ("renamed.docx", b"this is not a word document at all"),
        ("broken.docx", b"PK\x03\x04" + b"\x00" * 200),
    ],
)
def test_corrupt_files_are_refused_as_damaged(tmp_path, name, data):
    refusal = read_in_child(tmp_path, name, data)

    assert refusal.reason in {Reason.CORRUPT, Reason.NO_TEXT}
    assert refusal.message


def test_a_pdf_with_more_pages_than_allowed_is_refused_with_the_count(tmp_path, settings):
    settings.DOCUMENTS_MAX_PAGES = 3
    data = pdf_bytes([[("p", f"Page {n} text that is long enough to count as text.")] for n in range(5)])

    refusal = read_in_child(tmp_path, "long.pdf", data)

    assert refusal.reason == Reason.TOO_MANY_PAGES
    assert "5 pages; the limit is 3" in refusal.message


def word_with(document_xml: bytes) -> bytes:
    """A real Word file whose main part is replaced."""
    import zipfile

    original = zipfile.ZipFile(io.BytesIO(docx_bytes([("p", "Hello")])))
    members = {info.filename: original.read(info) for info in original.infolist()}
    members["word/document.xml"] = document_xml
    return zip_bytes(members)


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&lol3;</w:t></w:r></w:p></w:body></w:document>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&secret;</w:t></w:r></w:p></w:body></w:document>"""


@pytest.mark.parametrize("document_xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["entity expansion", "external entity"])
def test_word_files_with_xml_entities_are_refused_unread(tmp_path, document_xml):
    refusal = read_in_child(tmp_path, "evil.docx", word_with(document_xml))

    assert refusal.reason == Reason.UNSAFE
    assert "root:" not in refusal.message


def test_a_word_file_that_unpacks_to_far_more_than_allowed_is_refused(tmp_path, settings):
    settings.DOCUMENTS_MAX_BYTES = 1024 * 1024
    import zipfile

    original = zipfile.ZipFile(io.BytesIO(docx_bytes([("p", "Hello")])))
    members = {info.filename: original.read(info) for info in original.infolist()}
    members["word/media/padding.bin"] = b"\0" * (30 * 1024 * 1024)

    refusal = read_in_child(tmp_path, "bomb.docx", zip_bytes(members))

    assert refusal.reason == Reason.TOO_LARGE


def test_a_pdf_stream_that_inflates_to_600_mb_is_refused_and_reading_goes_on(tmp_path, settings):
    settings.DOCUMENTS_MEMORY_MB = 400
    packer, chunk = zlib.compressobj(9), b"0" * (1024 * 1024)
    bomb = b"".join(packer.compress(chunk) for _ in range(600)) + packer.flush()
    contents = b"<< /Length %d /Filter /FlateDecode >> stream\n" % len(bomb) + bomb + b"\nendstream"

    refusal = read_in_child(tmp_path, "bomb.pdf", raw_pdf(contents=contents))

    # pypdf stops inflating past its own limit: nothing readable is left.
    assert refusal.reason in {Reason.NO_TEXT, Reason.TOO_LARGE}
    assert isinstance(read_in_child(tmp_path, "fine.md", b"# Fine\n\nAll good here."), processing.Read)


def test_a_word_file_whose_text_needs_more_memory_than_allowed_is_refused_as_too_large(tmp_path, settings):
    settings.DOCUMENTS_MEMORY_MB = 400
    original = zipfile.ZipFile(io.BytesIO(docx_bytes([("p", "Hello")])))
    buffer = io.BytesIO()
    paragraph = b"<w:p><w:r><w:t>Drivers rest.</w:t></w:r></w:p>" * 20_000
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in original.infolist():
            if info.filename != "word/document.xml":
                archive.writestr(info.filename, original.read(info))
        with archive.open("word/document.xml", "w") as part:
            part.write(
                b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
            )
            for _ in range(150):  # 150 MB of paragraphs: millions of XML elements once parsed
                part.write(paragraph)
            part.write(b"</w:body></w:document>")

    refusal = read_in_child(tmp_path, "huge.docx", buffer.getvalue())

    assert refusal.reason == Reason.TOO_LARGE, refusal
    assert "memory" in refusal.message
    assert isinstance(read_in_child(tmp_path, "fine.md", b"# Fine\n\nAll good here."), processing.Read)


def test_a_file_that_takes_longer_than_allowed_is_stopped(tmp_path, settings):
    settings.DOCUMENTS_SECONDS_PER_FILE = 0.05
    refusal = read_in_child(tmp_path, "slow.md", b"# Slow\n\n" + b"> " * 50_000 + b"deep")

    assert refusal.reason == Reason.TOO_SLOW
    assert "took too long" in refusal.message


@pytest.mark.parametrize(
    "name, data",
    [
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 100),
        ("notes.txt", b"\x00\x01\x02binary" * 100),
        ("photo.png", b"\x89PNG"),
    ],
)
def test_unsupported_files_are_refused_with_the_formats_that_are(tmp_path, name, data):
    refusal = read_in_child(tmp_path, name, data)

    assert refusal.reason == Reason.UNSUPPORTED
    assert "PDF, Word (.docx), HTML, Markdown or plain text" in refusal.message


def test_a_file_larger_than_allowed_is_refused_before_it_is_read():
    with pytest.raises(Refused) as refused:
        read("big.txt", b"a" * 2000, Limits(max_bytes=1000))

    assert refused.value.reason == Reason.TOO_LARGE


def test_a_document_that_would_make_too_many_passages_is_refused():
    markdown = "".join(f"## Section {n}\n\nText {n}.\n\n" for n in range(50)).encode()

    with pytest.raises(Refused) as refused:
        read("many.md", markdown, Limits(max_passages=10))

    assert refused.value.reason == Reason.TOO_MANY_PASSAGES


def raw_pdf(catalog=b"", kids=b"[3 0 R]", extra=(), contents=None):
    """A one-page PDF written object by object, so its structure can be made to loop (or explode)."""
    text = b"BT /F1 12 Tf 72 700 Td (Drivers must rest for eleven hours between two duties.) Tj ET"
    contents = contents or b"<< /Length " + str(len(text)).encode() + b" >> stream\n" + text + b"\nendstream"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        b"<< /Type /Pages /Kids " + kids + b" /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>",
        contents,
        *extra,
    ]
    out, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj " % number + body + b" endobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return out + b"trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF" % (len(objects) + 1, xref)


def test_a_pdf_whose_page_tree_loops_is_refused_as_damaged(tmp_path):
    refusal = read_in_child(tmp_path, "loop.pdf", raw_pdf(kids=b"[2 0 R 3 0 R]"))

    assert refusal.reason == Reason.CORRUPT


def test_a_pdf_whose_bookmarks_loop_is_read_without_them_looping(tmp_path):
    looping = (
        b"<< /Type /Outlines /First 6 0 R /Last 7 0 R >>",
        b"<< /Title (Rest periods) /Parent 5 0 R /Dest [3 0 R /Fit] /Next 7 0 R /First 6 0 R >>",
        b"<< /Title (Breaks) /Parent 5 0 R /Dest [3 0 R /Fit] /Next 6 0 R >>",
    )

    result = read_in_child(tmp_path, "bookmarks.pdf", raw_pdf(b"/Outlines 5 0 R", extra=looping))

    assert isinstance(result, processing.Read)
    assert "eleven hours" in result.passages[0].text


def test_a_documents_title_comes_from_its_metadata_or_its_first_heading(depot_docx):
    untitled_word = docx_bytes([("h1", "Fuelling"), ("p", "Shunters refuel the buses.")], title="")

    assert read("depot.docx", depot_docx, Limits())["title"] == "Depot procedures"
    assert read("fuel.docx", untitled_word, Limits())["title"] == "Fuelling"
    assert read("leave.txt", b"ANNUAL LEAVE\n\nDrivers get 28 days.", Limits())["title"] == "Annual leave"


def test_html_nested_a_hundred_thousand_deep_is_stopped_at_the_time_limit(tmp_path, settings):
    settings.DOCUMENTS_SECONDS_PER_FILE = 2
    depth = 100_000
    html = b"<div>" * depth + b"<p>Deep text.</p>" + b"</div>" * depth

    refusal = read_in_child(tmp_path, "deep.html", html)

    assert refusal.reason == Reason.TOO_SLOW


def test_a_markdown_pages_front_matter_gives_its_title_and_is_not_cited():
    page = b'---\ntitle: "Ticket machine guide"\nlayout: page\n---\n\n## Error codes\n\nE01 means the paper is out.\n'

    result = read("machine.md", page, Limits())

    assert result["title"] == "Ticket machine guide"
    assert [(p["heading_path"], p["text"]) for p in result["passages"]] == [
        ("Error codes", "E01 means the paper is out.")
    ]


def test_a_justified_paragraph_spread_word_by_word_is_not_mistaken_for_a_table():
    from chatapp.documents.reading import pdf_block

    spread = ["The   rest   between   two   duties   is   measured   from   signing   off   to   signing   on."] * 3

    (block,) = pdf_block(spread, 1)

    assert block.kind == "text"
    assert " | " not in block.text


def test_tables_become_markdown_tables_and_a_long_one_repeats_its_header_in_each_passage():
    rows = "".join(f"| Bus {n} | Depot {n} | {n} seats |\n" for n in range(120))
    markdown = f"# Fleet\n\n| Bus | Depot | Seats |\n|---|---|---|\n{rows}".encode()

    found = passages("fleet.md", markdown, passage_words=100)

    assert len(found) > 3
    for passage in found:
        assert passage["text"].startswith("| Bus | Depot | Seats |\n| --- | --- | --- |\n| Bus ")
    assert "| Bus 119 | Depot 119 | 119 seats |" in found[-1]["text"]
