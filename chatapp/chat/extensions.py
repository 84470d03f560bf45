"""The named points where feature apps plug into the core's answer path.

`chat` knows nothing of images or the knowledge base: those apps register
here from their AppConfig.ready(), and the core calls whatever is registered.
Every hook runs synchronously in a thread where the ORM may be used.

- `images`: what a prompt turn's messages attach (costed for a model), and
  what to remember when a prompt had to leave some out;
- `knowledge_base`: grounds a bot's prompt in entries before generation, and
  checks the finished text against them after it;
- `payload`: extra fields for a message's event (what listeners receive);
- `templates`: fragments a feature renders at a `Slot` of the chat page or
  of each message (`{% load extensions %}{% extension "slot" %}` in the core's
  templates), and `message_prefetches`, the Message relations they read;
- `generation`: what one answer asks of the model beyond its bot (an API
  client's `max_tokens` or temperature).

`make check` runs tests/test_feature_boundary.py, which fails when a core
template, prefetch or attribute names a feature app instead of going
through one of these points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypedDict

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from chatapp.chat.models import Bot, Message


class PromptImage(Protocol):
    """An image on its way into a prompt: `left_out` replaces it by a note."""

    left_out: bool

    @property
    def cost(self) -> int: ...

    @property
    def attachment_id(self) -> int: ...

    def as_openai(self) -> dict: ...


class Images(Protocol):
    relations: tuple[str, ...]  # of Message, prefetched for a prompt's history

    def for_messages(self, messages: list[Message], model: str) -> list[PromptImage]: ...

    def left_out(self, reply: Message, attachment_ids: list[int]) -> None: ...

    def attacher(self, user: User, image_ids: object) -> Callable[[Message], None]:
        """Checks the user's uploads `image_ids` now; the returned callable links them to a message."""
        ...

    def count_on(self, message: Message) -> int:
        """How many images `message` carries."""
        ...

    def copy(self, source: Message, target: Message) -> None:
        """Gives `target` (an edited question) the images `source` carries."""
        ...

    def exported(self, message: Message, absolute: Callable[[str], str]) -> list[dict[str, str]]:
        """`message`'s images as an export lists them: name and absolute URL."""
        ...


@dataclass
class Grounding:
    """A knowledge-base bot's prompt: the system text with entries, and what to cite."""

    system: str
    sources: list = field(default_factory=list)
    # Known without asking the model (the entry's own text, "not covered"...).
    canned_answer: str | None = None


@dataclass
class FinalAnswer:
    text: str
    sources: list
    # The model's text when the check refused it; the user sees `text` instead.
    rejected_draft: str = ""


class KnowledgeBase(Protocol):
    def ground(self, bot: Bot | None, turns: list, system: str, reply: Message) -> Grounding: ...

    def finalize(self, reply: Message, text: str, sources: list) -> FinalAnswer: ...


class Slot(StrEnum):
    """Where a feature's template fragments appear; each renders with the page's context."""

    PAGE_HEAD = "page_head"  # the conversation page's <head>: stylesheets, scripts, <template>s
    COMPOSER = "composer"  # inside the message form, above the text box
    MESSAGE_ATTACHMENTS = "message_attachments"  # above a message's text (`message` may be None)
    MESSAGE_SOURCES = "message_sources"  # below it
    MESSAGE_FOOTER = "message_footer"  # after a message's actions


@dataclass(frozen=True)
class GenerationOverrides:
    """What one answer asks of the model in place of its bot's settings (None: the bot's)."""

    max_tokens: int | None = None
    temperature: float | None = None


class PayloadExtras(TypedDict, total=False):
    """What a feature adds to a message's payload (`register_payload`)."""

    images: list[dict[str, object]]
    images_left_out: int


@dataclass
class Registry:
    images: Images | None = None
    knowledge_base: KnowledgeBase | None = None
    payload: list[Callable[[Message], PayloadExtras]] = field(default_factory=list)
    templates: dict[Slot, list[str]] = field(default_factory=dict)
    message_prefetches: list[str] = field(default_factory=list)
    generation: list[Callable[[Message], GenerationOverrides | None]] = field(default_factory=list)

    def overrides_for(self, reply: Message) -> GenerationOverrides | None:
        """The first feature's overrides for `reply`; None when no feature has any (the bot's settings)."""
        for overrides in self.generation:
            found = overrides(reply)
            if found is not None:
                return found
        return None


registry = Registry()


def register_images(images: Images) -> None:
    registry.images = images


def register_knowledge_base(knowledge_base: KnowledgeBase) -> None:
    registry.knowledge_base = knowledge_base


def register_payload(extra: Callable[[Message], PayloadExtras]) -> None:
    if extra not in registry.payload:
        registry.payload.append(extra)


def register_templates(slot: Slot, *names: str, prefetch: tuple[str, ...] = ()) -> None:
    """Render the templates `names` at `slot`; `prefetch`: the Message relations they read."""
    listed = registry.templates.setdefault(slot, [])
    listed += [name for name in names if name not in listed]
    registry.message_prefetches += [name for name in prefetch if name not in registry.message_prefetches]


def register_generation(overrides: Callable[[Message], GenerationOverrides | None]) -> None:
    if overrides not in registry.generation:
        registry.generation.append(overrides)
