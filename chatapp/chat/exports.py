"""One conversation, exported by its owner as Markdown (the branch they chose) or JSON (every version)."""

from collections.abc import Callable

from django.db.models import prefetch_related_objects
from django.utils import timezone

from chatapp.chat.extensions import registry
from chatapp.chat.models import Conversation, Message


def _prefetch(messages: list[Message]) -> None:
    if registry.images is not None:
        prefetch_related_objects(messages, *registry.images.relations)


def _images(message: Message, absolute: Callable[[str], str]) -> list[dict[str, str]]:
    return registry.images.exported(message, absolute) if registry.images is not None else []


def as_markdown(conversation: Conversation, absolute: Callable[[str], str]) -> str:
    branch = conversation.branch()
    _prefetch(branch)
    lines = [f"# {conversation}", ""]
    bot = conversation.bot.name if conversation.bot else ""
    lines += [f"Exported {timezone.localtime():%Y-%m-%d %H:%M}" + (f" · {bot}" if bot else ""), ""]
    for message in branch:
        who = "You" if message.role == Message.Role.USER else "Assistant"
        when = timezone.localtime(message.created_at)
        lines += [f"## {who} · {when:%Y-%m-%d %H:%M}", ""]
        if message.content.strip():
            lines += [message.content.strip(), ""]
        for image in _images(message, absolute):
            lines += [f"![{image['name']}]({image['url']})", ""]
        if message.status in (Message.Status.ERROR, Message.Status.STOPPED):
            lines += [f"*{message.get_status_display()}{': ' + message.error if message.error else ''}*", ""]
    return "\n".join(lines).rstrip() + "\n"


def as_json(conversation: Conversation, absolute: Callable[[str], str]) -> dict[str, object]:
    thread = conversation.thread()
    messages = list(thread.by_id.values())
    _prefetch(messages)
    leaf = thread.by_id.get(conversation.current_id) or thread.latest_leaf(None)
    chosen = thread.on_branch(leaf)
    return {
        "id": conversation.pk,
        "title": str(conversation),
        "bot": conversation.bot.name if conversation.bot else None,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "pinned": conversation.is_pinned,
        "archived": conversation.is_archived,
        "messages": [
            {
                "id": message.pk,
                "parent_id": message.parent_id,
                "on_chosen_branch": message.pk in chosen,
                "role": message.role,
                "content": message.content,
                "status": message.status,
                "error": message.error,
                "model": message.model if message.role == Message.Role.ASSISTANT else None,
                "created_at": message.created_at.isoformat(),
                "duration": message.duration,
                "images": _images(message, absolute),
            }
            for message in messages
        ],
    }
