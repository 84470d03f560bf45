from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST

from chatapp.chat import actions, exports
from chatapp.chat.error_help import NEXT_STEPS, next_step
from chatapp.chat.errors import ChatError, NotFound
from chatapp.chat.extensions import registry
from chatapp.chat.models import Bot, Conversation, Message, Versions
from chatapp.chat.search import search as search_conversations
from chatapp.markdown import highlight_css

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    class SignedInRequest(HttpRequest):
        """What the views behind login_required receive."""

        user: User


SIDEBAR_SIZE = 200


def _sidebar(user: User) -> dict[str, object]:
    """The conversation list in groups: Pinned, Today, Previous 7 days, Older."""
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=7)
    groups: dict[str, list[Conversation]] = {"Pinned": [], "Today": [], "Previous 7 days": [], "Older": []}
    for item in Conversation.objects.visible_to(user).listed()[:SIDEBAR_SIZE]:
        if item.is_pinned:
            groups["Pinned"].append(item)
        elif item.updated_at >= today:
            groups["Today"].append(item)
        elif item.updated_at >= week:
            groups["Previous 7 days"].append(item)
        else:
            groups["Older"].append(item)
    return {
        "conversation_groups": list(groups.items()),
        "archived_conversations": list(Conversation.objects.visible_to(user).archived()[:SIDEBAR_SIZE]),
        "api_conversations": list(
            Conversation.objects.visible_to(user).listed(Conversation.Source.API)[: SIDEBAR_SIZE + 1]
        ),
    }


@dataclass(frozen=True)
class Shown:
    """A message of the transcript as the page shows it."""

    message: Message
    versions: Versions
    next_step: str  # what to do about a failed answer (chat.error_help)


def _transcript(conversation: Conversation | None, through: Message | None = None) -> list[Shown]:
    if conversation is None:
        return []
    thread = conversation.thread()
    branch = thread.branch(conversation.current_id, through)
    prefetch_related_objects(branch, *registry.message_prefetches)
    return [Shown(message, thread.place(message), next_step(message)) for message in branch]


def _sources(transcript: list[Shown]) -> dict[int, str]:
    return {shown.message.pk: shown.message.content for shown in transcript}


def _page(
    request: SignedInRequest,
    conversation: Conversation | None = None,
    through: Message | None = None,
    template: str = "chat/conversation.html",
    **extra: object,
) -> HttpResponse:
    transcript = _transcript(conversation, through)
    default_bot = conversation.bot if conversation else Bot.objects.default_for(request.user)
    return render(
        request,
        template,
        {
            "conversation": conversation,
            "transcript": transcript,
            "found": through,
            "message_sources": _sources(transcript),
            "error_next_steps": NEXT_STEPS,
            "max_message_chars": settings.MAX_MESSAGE_CHARS,
            "bots": Bot.objects.visible_to(request.user),
            "default_bot": default_bot,
            "demo_model": _demo_model(conversation.bot if conversation else default_bot),
            **_sidebar(request.user),
            **extra,
        },
    )


def _demo_model(bot: Bot | None) -> str:
    """The model's name when it is only a demo model (settings.DEMO_MODELS), else ""."""
    model = bot.model_name if bot else settings.INFERENCE_MODEL
    return model if model in settings.DEMO_MODELS else ""


def _owned(request: SignedInRequest, conversation_id: int) -> Conversation:
    found = Conversation.objects.visible_to(request.user).select_related("bot").filter(pk=conversation_id).first()
    if found is None:
        raise Http404("No such conversation.")
    return found


def _through(request: HttpRequest, conversation: Conversation) -> Message | None:
    """`?m=<id>` opens the conversation at that message (a search result), on its branch."""
    try:
        message_id = int(request.GET.get("m", ""))
    except ValueError:
        return None
    return conversation.messages.filter(pk=message_id).first()


@login_required
def home(request: SignedInRequest) -> HttpResponse:
    return _page(request)


@login_required
def conversation(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    found = _owned(request, conversation_id)
    return _page(request, found, _through(request, found))


@login_required
def transcript(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    """Only the transcript, for the page to swap in after the branch changed."""
    branch = _transcript(_owned(request, conversation_id))
    return render(
        request,
        "chat/transcript.html",
        {"transcript": branch, "message_sources": _sources(branch)},
    )


@login_required
def search(request: SignedInRequest) -> HttpResponse:
    # NUL cannot reach the database, and surrogates cannot be encoded: neither is a search for anything.
    query = request.GET.get("q", "").replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return _page(request, template="chat/search.html", query=query, results=search_conversations(request.user, query))


@login_required
@require_POST
def pin(request: SignedInRequest, conversation_id: int) -> HttpResponseRedirect:
    try:
        actions.pin_conversation(request.user, conversation_id, request.POST.get("pinned") != "0")
    except NotFound:
        raise Http404("No such conversation.") from None
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def archive(request: SignedInRequest, conversation_id: int) -> HttpResponseRedirect:
    archived = request.POST.get("archived") != "0"
    try:
        actions.archive_conversation(request.user, conversation_id, archived)
    except NotFound:
        raise Http404("No such conversation.") from None
    if archived:
        flash.info(request, "Conversation archived. Find it under Archived in the list, or by searching.")
        return redirect("chat:home")
    return redirect("chat:conversation", conversation_id=conversation_id)


def _download(content: str, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def export_markdown(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    found = _owned(request, conversation_id)
    text = exports.as_markdown(found, request.build_absolute_uri)
    return _download(text, "text/markdown; charset=utf-8", f"conversation-{found.pk}.md")


@login_required
def export_json(request: SignedInRequest, conversation_id: int) -> HttpResponse:
    found = _owned(request, conversation_id)
    data = exports.as_json(found, request.build_absolute_uri)
    return _download(
        json.dumps(data, indent=2, ensure_ascii=False), "application/json", f"conversation-{found.pk}.json"
    )


@login_required
@require_POST
def rename(request: SignedInRequest, conversation_id: int) -> HttpResponseRedirect:
    try:
        actions.rename_conversation(request.user, conversation_id, request.POST.get("title", ""))
    except NotFound:
        raise Http404("No such conversation.") from None
    except ChatError as error:
        flash.error(request, str(error))
    return redirect("chat:conversation", conversation_id=conversation_id)


@login_required
@require_POST
def delete(request: SignedInRequest, conversation_id: int) -> HttpResponseRedirect:
    try:
        actions.delete_conversation(request.user, conversation_id)
    except NotFound:
        raise Http404("No such conversation.") from None
    return redirect("chat:home")


DARK_CODE_STYLE = "github-dark"


@lru_cache(maxsize=1)
def _code_css() -> str:
    from pygments.formatters import HtmlFormatter

    # The dark palette applies with the dark theme, chosen or from the system.
    dark = HtmlFormatter(style=DARK_CODE_STYLE)
    return (
        highlight_css()
        + "\n@media (prefers-color-scheme: dark) {\n"
        + dark.get_style_defs(':root:not([data-theme="light"]) .markdown pre')
        + "\n}\n"
        + dark.get_style_defs('[data-theme="dark"] .markdown pre')
    )


@cache_control(public=True, max_age=86400)
def code_style(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_code_css(), content_type="text/css")
