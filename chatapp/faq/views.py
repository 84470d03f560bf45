from collections.abc import Iterable

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from chatapp.faq import actions
from chatapp.faq.models import FAQEntry
from chatapp.faq.search import search, visible_entry_ids
from chatapp.markdown import render_markdown


@login_required
def entry_list(request: HttpRequest) -> HttpResponse:
    query = " ".join(request.GET.get("q", "").split())[:300]
    if query:
        result = search(query, k=10, visible=visible_entry_ids(request.user))
        entries: Iterable[object] = [hit.document for hit in result.hits] if result.covered else []
    else:
        entries = FAQEntry.objects.published().visible_to(request.user).order_by("question")
    return render(request, "faq/entry_list.html", {"entries": entries, "query": query})


@login_required
def entry(request: HttpRequest, key: str) -> HttpResponse:
    # Reviewers preview drafts; everyone else sees published entries only.
    can_preview = request.user.has_perm("faq.view_faqentry") or request.user.has_perm("review.promote_to_faq")
    entries = FAQEntry.objects.all() if can_preview else FAQEntry.objects.published()
    found = entries.visible_to(request.user).filter(key=key).first()
    if found is None:
        raise Http404("No such FAQ entry.")
    return render(request, "faq/entry.html", {"entry": found, "answer_html": render_markdown(found.answer)})


@login_required
@require_POST
def confirm(request: HttpRequest) -> JsonResponse:
    """ "This answers it" under a "not sure" answer: recorded for reviewers, nothing else changes."""
    try:
        message_id, number = int(request.POST.get("message", "")), int(request.POST.get("number", ""))
    except ValueError:
        return JsonResponse({"error": "Say which answer and which source."}, status=400)
    try:
        actions.confirm_source(request.user, message_id, number)  # type: ignore[arg-type]
    except actions.NotConfirmable as error:
        return JsonResponse({"error": str(error)}, status=404)
    return JsonResponse({"confirmed": True, "message": "Thanks: a reviewer will check it."})
