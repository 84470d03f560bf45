"""`manage.py knowledge_import PATH...`: folders recursively, unchanged files skipped, --prune."""

import io

import pytest
from django.core.management import CommandError, call_command

from chatapp.documents.models import Document
from tests.support.documents import docx_bytes

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("knowledge_import", *map(str, args), "--now", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def folder(tmp_path, handbook_pdf, depot_docx):
    root = tmp_path / "docs"
    (root / "ops").mkdir(parents=True)
    (root / "handbook.pdf").write_bytes(handbook_pdf)
    (root / "ops" / "depot.docx").write_bytes(depot_docx)
    (root / "ops" / "notes.md").write_text("# Notes\n\nRadio channel 9 is for emergencies only.\n")
    (root / "ops" / "picture.png").write_bytes(b"\x89PNG")
    return root


def test_a_folder_is_imported_recursively_and_every_document_becomes_ready(folder):
    out, err = run(folder)

    assert "3 added" in out
    assert set(Document.objects.values_list("status", flat=True)) == {"ready"}
    handbook = Document.objects.get(original_name="handbook.pdf")
    assert handbook.title == "Driver handbook"
    assert handbook.source_path == str(folder / "handbook.pdf")
    assert handbook.passages.filter(page=2, heading_path__endswith="2.3 Rest periods").exists()


def test_running_it_again_skips_unchanged_files_and_reprocesses_changed_ones(folder):
    run(folder)
    (folder / "ops" / "depot.docx").write_bytes(docx_bytes([("h1", "Fuelling"), ("p", "Drivers never fuel buses.")]))

    out, _ = run(folder)

    assert "0 added, 1 updated, 2 unchanged" in out
    depot = Document.objects.get(original_name="depot.docx")
    assert [p.heading_path for p in depot.passages.all()] == ["Fuelling"]
    assert Document.objects.count() == 3


def test_prune_removes_documents_whose_files_are_gone(folder):
    run(folder)
    (folder / "ops" / "notes.md").unlink()

    out, _ = run(folder, "--prune")

    assert "removed: Notes" in out
    assert not Document.objects.filter(original_name="notes.md").exists()
    assert Document.objects.count() == 2


def test_a_file_that_cannot_be_read_is_reported_with_its_reason_and_the_rest_is_imported(folder):
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")

    out, err = run(folder)

    assert "scan.pdf: The file is damaged" in err
    assert Document.objects.filter(status="ready").count() == 3
    assert Document.objects.get(original_name="scan.pdf").status == "failed"


def test_a_missing_path_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        run(tmp_path / "nowhere")
