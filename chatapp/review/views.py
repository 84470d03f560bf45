from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from chatapp.review import actions
from chatapp.review.forms import FeedbackForm


@login_required
@require_POST
def feedback(request: HttpRequest, message_id: int) -> JsonResponse:
    """The user's thumbs up or down, and optional comment, on one of their answers."""
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return JsonResponse(
            {
                "error": f"A vote is up, down or empty, with a comment of at most {actions.MAX_COMMENT_CHARS} characters."
            },
            status=400,
        )
    try:
        given = actions.give_feedback(request.user, message_id, form.cleaned_data["vote"], form.cleaned_data["comment"])
    except actions.NotFound:
        raise Http404("No such message.") from None
    except actions.ReviewError as error:
        return JsonResponse({"error": str(error)}, status=400)
    return JsonResponse(
        {"message_id": message_id, "vote": given.vote if given else "", "comment": given.comment if given else ""}
    )
