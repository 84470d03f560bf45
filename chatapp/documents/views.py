from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from chatapp.documents.models import Document, DocumentQuerySet

# What the original is served as: never HTML, which would run in our origin.
CONTENT_TYPES = {
    Document.Format.PDF: "application/pdf",
    Document.Format.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Document.Format.HTML: "text/plain; charset=utf-8",
    Document.Format.MARKDOWN: "text/markdown; charset=utf-8",
    Document.Format.TEXT: "text/plain; charset=utf-8",
}


def viewable(request: HttpRequest) -> DocumentQuerySet:
    """What `request.user` may open: reviewers preview drafts and documents not ready yet."""
    documents = Document.objects.visible_to(request.user)
    if request.user.has_perm("documents.view_document"):
        return documents
    return documents.published().ready()


def find(request: HttpRequest, document_id: int) -> Document:
    found = viewable(request).filter(pk=document_id).first()
    if found is None:
        # The same answer for "no such document" and "not yours": nothing leaks.
        raise Http404("No such document.")
    return found


@login_required
@require_GET
def document_list(request: HttpRequest) -> HttpResponse:
    documents = viewable(request).order_by("title", "id")
    return render(request, "documents/document_list.html", {"documents": documents})


@login_required
@require_GET
def document(request: HttpRequest, document_id: int) -> HttpResponse:
    found = find(request, document_id)
    cited = request.GET.get("passage", "")
    passages = list(found.passages.order_by("position"))
    return render(request, "documents/document.html", {"document": found, "passages": passages, "cited": cited})


@login_required
@require_GET
def original(request: HttpRequest, document_id: int) -> HttpResponseBase:
    found = find(request, document_id)
    try:
        handle = found.original.open("rb")
    except FileNotFoundError:
        raise Http404("The original file is gone.") from None
    response = FileResponse(
        handle, content_type=CONTENT_TYPES.get(Document.Format(found.format), "application/octet-stream")
    )
    # Always a download: opened in the browser, a file of the team's could run in our origin.
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=found.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-cache"
    return response
