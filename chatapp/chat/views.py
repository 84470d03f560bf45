from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from chatapp.chat import actions
from chatapp.chat.models import Bot, Conversation
from chatapp.markdown import highlight_css


def _page(request, conversation=None):
    transcript = []
    if conversation is not None:
        transcript = list(conversation.messages.prefetch_related("images", "images_left_out", "feedback"))
    return render(
        request,
        "chat/conversation.html",
        {
            "conversation": conversation,
            "transcript": transcript,
            "conversations": Conversation.objects.visible_to(request.user)[:200],
            "bots": Bot.objects.visible_to(request.user),
            "default_bot": conversation.bot if conversation else Bot.objects.default_for(request.user),
            "max_message_chars": settings.MAX_MESSAGE_CHARS,
        },
    )


@login_required
def home(request):
    return _page(request)


@login_required
def conversation(request, conversation_id):
    found = Conversation.objects.visible_to(request.user).select_related("bot").filter(pk=conversation_id).first()
    if found is None:
        raise Http404("No such conversation.")
    return _page(request, found)


@login_required
@require_POST
def rename(request, conversation_id):
    try:
        actions.rename_conversation(request.user, conversation_id, request.POST.get("title", ""))
    except actions.NotFound:
        raise Http404("No such conversation.") from None
    except actions.ChatError as error:
        flash.error(request, str(error))
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def delete(request, conversation_id):
    try:
        actions.delete_conversation(request.user, conversation_id)
    except actions.NotFound:
        raise Http404("No such conversation.") from None
    return redirect("chat:home")


@cache_control(public=True, max_age=86400)
def code_style(request):
    return HttpResponse(highlight_css(), content_type="text/css")
