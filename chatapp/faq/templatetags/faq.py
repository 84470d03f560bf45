from __future__ import annotations

from typing import TYPE_CHECKING

from django import template

if TYPE_CHECKING:
    from chatapp.chat.models import Message

register = template.Library()

# Shown where the check refused a generated answer and the entry's own text replaced it.
REPLACED_NOTE = "Replaced by the knowledge base's own answer: the generated one did not stick to the entries."
# Entries linked in the answer's text itself ("Related: …", "The closest entries are: …").
LINKED_IN_TEXT = {"related", "closest"}


# A message's sources as stored (grounding.Source), read back without trusting their shape.
Stored = list[object] | None


def shown_sources(sources: Stored) -> tuple[str, list[dict[str, object]]]:
    """The entries to link under an answer: those it cited, else all it was given."""
    items = [item for item in sources or [] if isinstance(item, dict) and item.get("key")]
    items = [item for item in items if item.get("use") not in LINKED_IN_TEXT]
    cited = [item for item in items if item.get("cited")]
    return ("Sources", cited) if cited else ("Related FAQ entries", items)


def closest_sources(sources: Stored) -> list[dict[str, object]]:
    """The sources listed under a "not sure" answer: each gets "This answers it"."""
    return [item for item in sources or [] if isinstance(item, dict) and item.get("use") == "closest"]


@register.inclusion_tag("faq/sources.html")
def message_sources(message: Message) -> dict[str, object]:
    label, items = shown_sources(message.sources)
    return {
        "label": label,
        "items": items,
        "closest": closest_sources(message.sources),
        "message_id": message.pk,
        "replaced": bool(getattr(message, "rejected_draft", "")),
    }


@register.inclusion_tag("faq/retrieved_sources.html")
def retrieved_sources(message: Message) -> dict[str, object]:
    """For reviewers: every entry retrieved for an answer, its score and whether the answer cited it."""
    return {"items": [item for item in message.sources or [] if isinstance(item, dict) and item.get("key")]}


@register.inclusion_tag("faq/rejected_draft.html")
def rejected_draft(message: Message) -> dict[str, object]:
    """For reviewers: the generated answer the check refused, marked as such."""
    return {"draft": getattr(message, "rejected_draft", "")}
