"""The named points where feature apps plug into the core's answer path.

`chat` knows nothing of images or the knowledge base: those apps register
here from their AppConfig.ready(), and the core calls whatever is registered.
Every hook runs synchronously in a thread where the ORM may be used.

- `images`: what a prompt turn's messages attach (costed for a model), and
  what to remember when a prompt had to leave some out;
- `knowledge_base`: grounds a bot's prompt in entries before generation, and
  checks the finished text against them after it;
- `payload`: extra fields for a message's event (what listeners receive).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
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

    def attacher(self, user: Any, image_ids: list) -> Callable[[Message], None]:
        """Checks the user's uploads `image_ids` now; the returned callable links them to a message."""
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


@dataclass
class Registry:
    images: Images | None = None
    knowledge_base: KnowledgeBase | None = None
    payload: list[Callable[[Message], dict[str, Any]]] = field(default_factory=list)


registry = Registry()


def register_images(images: Images) -> None:
    registry.images = images


def register_knowledge_base(knowledge_base: KnowledgeBase) -> None:
    registry.knowledge_base = knowledge_base


def register_payload(extra: Callable[[Message], dict[str, Any]]) -> None:
    if extra not in registry.payload:
        registry.payload.append(extra)
