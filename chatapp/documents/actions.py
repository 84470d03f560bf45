"""Every write to documents: adding files (one, many, a zip, a folder), processing them, pruning.

A file is identified by its `source_path` (an upload's file name, a zip member's
path inside the zip, an imported file's absolute path) and its content hash: the
same bytes again are skipped, new bytes under the same path replace the
document's file and its passages once processed. Processing runs in the worker
(`tasks.process_document`), never in a request.
"""

from __future__ import annotations

import enum
import hashlib
import io
import logging
import os
import posixpath
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from celery import current_app
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import get_valid_filename, slugify

from chatapp.documents import processing
from chatapp.documents.models import Document, Passage
from chatapp.documents.reading import Reason, Refused, detect_format
from chatapp.documents.signals import passages_saved

if TYPE_CHECKING:
    from django.contrib.auth.models import Group, User

log = logging.getLogger(__name__)

PROCESS_DOCUMENT = "chatapp.documents.tasks.process_document"
SUFFIXES = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"}
MAX_NAME_CHARS = 200


class Outcome(enum.StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REFUSED = "refused"


@dataclass
class Added:
    """What became of one file: its document (none when refused before storing) and why."""

    name: str
    outcome: Outcome
    document: Document | None = None
    error: str = ""


def safe_name(filename: object) -> str:
    """The last path component, reduced to characters safe anywhere; only ever displayed."""
    base = os.path.basename(str(filename or "").replace("\\", "/")).strip()
    try:
        name = get_valid_filename(base)
    except Exception:  # SuspiciousFileOperation for names like ".." or ""
        name = ""
    name = name.lstrip(".")[-MAX_NAME_CHARS:]
    return name or "document"


def title_from_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0]
    return " ".join(stem.replace("_", " ").replace("-", " ").split()).capitalize() or name


def queue_processing(document: Document) -> None:
    document_id = document.pk
    transaction.on_commit(lambda: current_app.send_task(PROCESS_DOCUMENT, args=[document_id]))


def add_file(
    data: bytes,
    name: str,
    *,
    source_path: str = "",
    added_by: User | None = None,
    groups: Iterable[Group] = (),
    published: bool = True,
    queue: bool = True,
) -> Added:
    """Store one file and queue it for processing, unless it is refused or unchanged."""
    display = safe_name(name)
    refusal = processing.too_large(len(data))
    if refusal is not None:
        return Added(display, Outcome.REFUSED, error=refusal.message)
    try:
        format = detect_format(display, data)
    except Refused as refused:
        return Added(display, Outcome.REFUSED, error=processing.Refusal(refused.reason, refused.detail).message)
    digest = hashlib.sha256(data).hexdigest()
    source = source_path or display
    with transaction.atomic():
        existing = Document.objects.select_for_update().filter(source_path=source).order_by("id").first()
        if existing is not None and existing.content_hash == digest and existing.status != Document.Status.FAILED:
            return Added(display, Outcome.UNCHANGED, existing)
        document = existing or Document(source_path=source, added_by=added_by, published=published)
        old_file = document.original.name if existing is not None else ""
        document.content_hash = digest
        document.original_name = display
        document.size = len(data)
        document.format = format
        document.status = Document.Status.QUEUED
        document.error = ""
        document.parts_done = document.parts_total = 0
        document.original.save(display, ContentFile(data), save=False)
        document.save()
        if existing is None:
            document.groups.set(list(groups))
        if queue:
            queue_processing(document)
    if old_file and old_file != document.original.name:
        document.original.storage.delete(old_file)
    return Added(display, Outcome.UPDATED if existing is not None else Outcome.ADDED, document)


def member_path(name: str) -> str | None:
    """A zip member's path, made relative and free of `..`; None for what is not a file to read."""
    path = posixpath.normpath(name.replace("\\", "/")).lstrip("/")
    parts = path.split("/")
    if path in {"", "."} or ".." in parts or any(part.startswith(".") or part == "__MACOSX" for part in parts):
        return None
    return path


def add_zip(
    data: bytes,
    name: str,
    *,
    added_by: User | None = None,
    groups: Iterable[Group] = (),
    published: bool = True,
) -> list[Added]:
    """Every supported file of a zip, each like an upload of its own; the zip's limits first."""
    zip_name = safe_name(name)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [member for member in archive.infolist() if not member.is_dir()]
    except (zipfile.BadZipFile, ValueError, OSError):
        return [Added(zip_name, Outcome.REFUSED, error="The zip file is damaged and could not be opened.")]
    if len(members) > settings.DOCUMENTS_ZIP_MAX_MEMBERS:
        return [
            Added(
                zip_name,
                Outcome.REFUSED,
                error=f"The zip holds {len(members):,} files; the limit is {settings.DOCUMENTS_ZIP_MAX_MEMBERS:,}.",
            )
        ]
    total = sum(member.file_size for member in members)
    if total > settings.DOCUMENTS_ZIP_MAX_BYTES:
        return [
            Added(
                zip_name,
                Outcome.REFUSED,
                error=f"The zip unpacks to {filesizeformat(total)}; the limit is {filesizeformat(settings.DOCUMENTS_ZIP_MAX_BYTES)}.",
            )
        ]
    results: list[Added] = []
    unpacked = 0
    for member in members:
        path = member_path(member.filename)
        if path is None:
            continue
        display = safe_name(path)
        if Path(path).suffix.lower() not in SUFFIXES:
            results.append(Added(display, Outcome.REFUSED, error=processing.MESSAGES[Reason.UNSUPPORTED]))
            continue
        # The sizes in a zip's directory are claims: read no more than allowed, whatever they say.
        allowed = min(settings.DOCUMENTS_MAX_BYTES, settings.DOCUMENTS_ZIP_MAX_BYTES - unpacked)
        try:
            with archive.open(member) as handle:
                content = handle.read(allowed + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError):
            results.append(Added(display, Outcome.REFUSED, error=processing.MESSAGES[Reason.CORRUPT]))
            continue
        if len(content) > allowed:
            results.append(Added(display, Outcome.REFUSED, error=processing.MESSAGES[Reason.TOO_LARGE]))
            if allowed < settings.DOCUMENTS_MAX_BYTES:
                break  # the zip's total is spent
            continue
        unpacked += len(content)
        results.append(
            add_file(
                content,
                display,
                source_path=f"{zip_name}/{path}",
                added_by=added_by,
                groups=groups,
                published=published,
            )
        )
    if not results:
        results.append(Added(zip_name, Outcome.REFUSED, error="The zip holds no documents."))
    return results


def import_paths(
    paths: Iterable[Path], *, prune: bool = False, added_by: User | None = None, queue: bool = True
) -> tuple[list[Added], list[str]]:
    """Files and folders (recursively) from the server's disk; returns what became of each file,
    and with `prune` the titles of documents removed because their file under these paths is gone."""
    roots = [Path(path).resolve() for path in paths]
    results: list[Added] = []
    seen: set[str] = set()
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            if file.suffix.lower() not in SUFFIXES or any(part.startswith(".") for part in file.parts[-3:]):
                continue
            seen.add(str(file))
            size = file.stat().st_size
            refusal = processing.too_large(size)
            if refusal is not None:
                results.append(Added(file.name, Outcome.REFUSED, error=refusal.message))
                continue
            results.append(
                add_file(file.read_bytes(), file.name, source_path=str(file), added_by=added_by, queue=queue)
            )
    pruned: list[str] = []
    if prune:
        for document in Document.objects.filter(source_path__startswith="/"):
            under = any(
                document.source_path.startswith(f"{root}/") or document.source_path == str(root) for root in roots
            )
            if under and document.source_path not in seen:
                pruned.append(str(document))
                delete_document(document)
    return results, pruned


def delete_document(document: Document) -> None:
    name = document.original.name
    document.delete()
    if name:
        document.original.storage.delete(name)


def reprocess(document: Document) -> None:
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.QUEUED, error="", parts_done=0, parts_total=0, updated_at=timezone.now()
    )
    queue_processing(document)


def unique_anchors(headings: list[list[str]]) -> list[str]:
    anchors: list[str] = []
    taken: set[str] = set()
    for position, path in enumerate(headings):
        # "2.3 Rest periods" -> "2-3-rest-periods": section numbers stay readable.
        base = slugify(path[-1].replace(".", " "))[:80].strip("-") if path else ""
        base = base or f"passage-{position + 1}"
        anchor, number = base, 2
        while anchor in taken:
            anchor, number = f"{base}-{number}", number + 1
        taken.add(anchor)
        anchors.append(anchor)
    return anchors


# Documents read at once by this worker process: the rest wait in the queue, not in a worker
# thread, so a zip of 500 files never takes the threads that stream answers.
reading_slots = threading.BoundedSemaphore(settings.DOCUMENTS_CONCURRENCY)


def process_if_free(document_id: int) -> bool:
    """Process the document if this process has a reading slot free; False: try again later."""
    if not reading_slots.acquire(blocking=False):
        return False
    try:
        process(document_id)
    finally:
        reading_slots.release()
    return True


def process(document_id: int) -> Document | None:
    """Read the document into passages (in a child process) and mark it ready or failed."""
    # A document left "processing" longer than any reading may take lost its worker (the task
    # was delivered again): claim it anew. One being read now is left to its worker.
    stale = timezone.now() - timedelta(seconds=settings.DOCUMENTS_SECONDS_PER_FILE + 60)
    claimed = (
        Document.objects.filter(pk=document_id)
        .filter(~Q(status=Document.Status.PROCESSING) | Q(updated_at__lt=stale))
        .update(status=Document.Status.PROCESSING, error="", parts_done=0, parts_total=0, updated_at=timezone.now())
    )
    document = Document.objects.filter(pk=document_id).first()
    if document is None or not claimed:
        return document  # deleted meanwhile, or another worker has it
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done == total:
            last[0] = now
            Document.objects.filter(pk=document_id).update(parts_done=done, parts_total=total)

    try:
        result = read_original(document, progress)
    except Exception:
        log.exception("reading document %s failed", document_id)
        result = processing.Refusal(Reason.CORRUPT, "")
    if isinstance(result, processing.Refusal):
        Document.objects.filter(pk=document_id).update(
            status=Document.Status.FAILED, error=result.message, updated_at=timezone.now()
        )
        document.refresh_from_db()
        return document
    with transaction.atomic():
        document = Document.objects.select_for_update().get(pk=document_id)
        document.passages.all().delete()
        anchors = unique_anchors([passage.headings for passage in result.passages])
        Passage.objects.bulk_create(
            Passage(
                document=document,
                position=position,
                heading_path=passage.heading_path[:1000],
                page=passage.page,
                anchor=anchor,
                text=passage.text,
            )
            for position, (passage, anchor) in enumerate(zip(result.passages, anchors, strict=True))
        )
        if not document.title:
            document.title = result.title or title_from_name(document.original_name)
        document.format = result.format
        document.parts_total = max(result.pages, document.parts_total, 1)
        document.parts_done = document.parts_total
        passages_saved.send(sender=Document, document=document)
        document.status = Document.Status.READY
        document.save()
    return document


def read_original(document: Document, progress: processing.Progress) -> processing.Read | processing.Refusal:
    try:
        path = Path(document.original.path)
    except NotImplementedError:  # a storage without local paths: read it into a file of our own
        path = None
    if path is not None and path.exists():
        return processing.read_file(path, document.original_name, progress)
    if path is not None:
        return processing.Refusal(Reason.CORRUPT, "the original file is missing")
    with tempfile.NamedTemporaryFile(suffix=Path(document.original_name).suffix) as copy:
        with document.original.open("rb") as handle:
            copy.write(handle.read())
        copy.flush()
        return processing.read_file(Path(copy.name), document.original_name, progress)
