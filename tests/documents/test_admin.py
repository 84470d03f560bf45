"""Admins upload files or a zip; the worker reads them in the background; the list shows progress and errors."""

import time

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from chatapp.documents.models import Document
from tests.support.accounts import signed_in
from tests.support.documents import zip_bytes

UPLOAD = "/admin/documents/document/upload/"
LIST = "/admin/documents/document/"


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def settled():
    return not Document.objects.filter(status__in=["queued", "processing"]).exists()


def test_uploaded_files_are_processed_by_the_worker_and_become_ready(worker, admin, handbook_pdf, depot_docx):
    client = signed_in(admin)

    response = client.post(
        UPLOAD,
        {
            "uploads": [
                SimpleUploadedFile("handbook.pdf", handbook_pdf),
                SimpleUploadedFile("depot.docx", depot_docx),
            ],
            "published": "on",
        },
    )

    assert response.status_code == 302
    wait_for(settled)
    handbook = Document.objects.get(original_name="handbook.pdf")
    assert handbook.status == "ready"
    assert handbook.parts_done == handbook.parts_total == 2
    assert handbook.added_by == admin
    assert Document.objects.get(original_name="depot.docx").passages.filter(heading_path="Our depots").exists()
    listing = client.get(LIST).content.decode()
    assert "Driver handbook" in listing and "Ready" in listing


def test_a_zip_is_unpacked_with_its_bad_members_refused_one_by_one(worker, admin, handbook_pdf):
    client = signed_in(admin)
    archive = zip_bytes(
        {
            "manuals/handbook.pdf": handbook_pdf,
            "../../../etc/evil.md": b"# Evil\n\nThis tries to escape the folder.",
            "manuals/locked.exe": b"MZ",
            "manuals/broken.pdf": b"%PDF-1.4 nothing",
        }
    )

    response = client.post(UPLOAD, {"uploads": [SimpleUploadedFile("manuals.zip", archive)], "published": "on"})

    page = response.content.decode()
    assert "locked.exe" in page and "This kind of file is not supported" in page
    wait_for(settled)
    assert Document.objects.get(original_name="handbook.pdf").status == "ready"
    assert Document.objects.get(original_name="handbook.pdf").source_path == "manuals.zip/manuals/handbook.pdf"
    broken = Document.objects.get(original_name="broken.pdf")
    assert broken.status == "failed" and "damaged" in broken.error
    # A member named to climb out of the folder is skipped, never written anywhere.
    assert not Document.objects.filter(source_path__contains="..").exists()
    listing = client.get(LIST).content.decode()
    assert "damaged" in listing


def test_a_zip_over_its_limits_is_refused_whole(db, admin, settings):
    settings.DOCUMENTS_ZIP_MAX_MEMBERS = 3
    archive = zip_bytes({f"note{n}.md": b"# Note\n\nText." for n in range(5)})

    page = signed_in(admin).post(UPLOAD, {"uploads": [SimpleUploadedFile("notes.zip", archive)]}).content.decode()

    assert "The zip holds 5 files; the limit is 3." in page
    assert not Document.objects.exists()


def test_a_zip_that_unpacks_past_the_total_limit_is_refused(db, admin, settings):
    settings.DOCUMENTS_ZIP_MAX_BYTES = 1024 * 1024
    archive = zip_bytes({"huge.txt": b"a" * (5 * 1024 * 1024)})

    page = signed_in(admin).post(UPLOAD, {"uploads": [SimpleUploadedFile("bomb.zip", archive)]}).content.decode()

    assert "The zip unpacks to 5.0" in page
    assert not Document.objects.exists()


def test_a_file_over_the_size_limit_is_refused_before_it_is_stored(db, admin, settings):
    settings.DOCUMENTS_MAX_BYTES = 1000

    page = signed_in(admin).post(UPLOAD, {"uploads": [SimpleUploadedFile("big.txt", b"a" * 5000)]}).content.decode()

    assert "The file is too large. (4.9" in page
    assert not Document.objects.exists()


def test_the_list_refreshes_itself_while_documents_are_being_processed(db, admin):
    from tests.support.documents import ready_document

    ready_document(status="processing", parts_done=3, parts_total=10)

    page = signed_in(admin).get(LIST).content.decode()

    assert "3 of 10" in page
    assert 'http-equiv="refresh"' in page


def test_uploading_the_same_file_again_changes_nothing(db, admin, django_capture_on_commit_callbacks):
    client = signed_in(admin)
    with django_capture_on_commit_callbacks():
        client.post(UPLOAD, {"uploads": [SimpleUploadedFile("a.md", b"# A\n\nText.")]})
        client.post(UPLOAD, {"uploads": [SimpleUploadedFile("a.md", b"# A\n\nText.")]})

    assert Document.objects.count() == 1


def test_staff_outside_a_documents_group_do_not_see_it_in_the_admin(db, reviewer, admin):
    from django.contrib.auth.models import Group, Permission

    from tests.support.documents import ready_document

    reviewer.user_permissions.add(*Permission.objects.filter(content_type__app_label="documents"))
    document = ready_document()
    document.groups.add(Group.objects.create(name="Managers"))

    client = signed_in(reviewer)

    assert "Driver handbook" not in client.get(LIST).content.decode()
    # As for a document that does not exist: back to the admin's index, told so.
    response = client.get(reverse("admin:documents_document_change", args=[document.pk]), follow=True)
    assert response.redirect_chain[-1] == (reverse("admin:index"), 302)
    assert "doesn’t exist" in response.content.decode()


def test_a_documents_admin_page_links_its_passages_and_original(db, admin):
    from tests.support.documents import ready_document

    document = ready_document()

    page = signed_in(admin).get(reverse("admin:documents_document_change", args=[document.pk])).content.decode()

    assert "Document page (1 passage)" in page
    assert document.get_original_url() in page
