from typing import TYPE_CHECKING, cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.defaultfilters import filesizeformat
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from chatapp.chat import quotas
from chatapp.images import actions
from chatapp.images.models import Attachment, can_view
from chatapp.images.processing import Rejected

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Room for the multipart boundaries and headers around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


def _too_large(size: int) -> JsonResponse:
    return JsonResponse(
        {
            "error": f"The file is too large ({filesizeformat(size)}); "
            f"the limit is {filesizeformat(settings.MAX_IMAGE_BYTES)}."
        },
        status=413,
    )


@login_required
@require_POST
@csrf_exempt  # checked below, once the request is known not to be oversized
def upload(request: HttpRequest) -> JsonResponse:
    # Answered before the body is parsed: the CSRF check would parse it first.
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > settings.MAX_IMAGE_BYTES + MULTIPART_OVERHEAD:
        return _too_large(int(declared))
    return _checked_upload(request)


@csrf_protect
def _checked_upload(request: HttpRequest) -> JsonResponse:
    files = request.FILES.getlist("image")
    if not files:
        return JsonResponse({"error": "Choose an image file to upload."}, status=400)
    if len(files) > 1:
        return JsonResponse({"error": "Upload one image per request."}, status=400)
    upload = files[0]
    if upload.size > settings.MAX_IMAGE_BYTES:
        return _too_large(cast(int, upload.size))  # an uploaded file always has its size
    try:
        quotas.hit("upload", request.user.pk)
    except quotas.LimitReached as refusal:
        return JsonResponse({"error": str(refusal)}, status=429, headers={"Retry-After": str(refusal.retry_after)})
    try:
        # Runs in the request's worker thread (a sync view under daphne), never
        # on the event loop that carries the websockets.
        # Signed in: `upload` requires it.
        attachment = actions.upload_image(cast("User", request.user), upload.read(), upload.name)
    except Rejected as rejected:
        return JsonResponse({"error": rejected.reason}, status=rejected.status)
    return JsonResponse({"image": attachment.as_event()}, status=201)


def _serve(request: HttpRequest, attachment_id: int, field: str) -> HttpResponse:
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None or not can_view(request.user, attachment):
        raise Http404("No such image.")
    stored = attachment.image
    file = getattr(stored, field)
    with file.open("rb") as handle:
        data = handle.read()
    is_thumbnail = field == "thumbnail"
    response = HttpResponse(data, content_type="image/webp" if is_thumbnail else stored.content_type)
    # Never None: a file name is given.
    response["Content-Disposition"] = cast(
        str,
        content_disposition_header(
            as_attachment=False, filename=attachment.download_name if not is_thumbnail else "thumbnail.webp"
        ),
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Opened directly, the image is a document of its own: it may run nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # An attachment's bytes never change; only its viewer's browser may keep them.
    response["Cache-Control"] = "private, max-age=86400"
    return response


@login_required
@require_GET
def image_file(request: HttpRequest, attachment_id: int) -> HttpResponse:
    return _serve(request, attachment_id, "file")


@login_required
@require_GET
def thumbnail(request: HttpRequest, attachment_id: int) -> HttpResponse:
    return _serve(request, attachment_id, "thumbnail")
