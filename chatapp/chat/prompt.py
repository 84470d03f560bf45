"""What the model is asked: the bot's system prompt and as much history as fits.

The history sent alternates user/assistant turns (Mistral's template rejects
other orders): answers that failed are left out and the user turns around them
merged. Older turns are dropped first; the system prompt and the latest turn
always stay.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import prefetch_related_objects

from chatapp.chat.extensions import Grounding, PromptImage, registry
from chatapp.chat.models import CHARS_PER_TOKEN, Bot, Message, answer_token_limit

TOKENS_PER_TURN = 4


def estimate_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + TOKENS_PER_TURN


@dataclass
class Turn:
    role: str
    text: str
    messages: list[Message] = field(default_factory=list)
    images: list[PromptImage] = field(default_factory=list)  # oldest first

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text) + sum(image.cost for image in self.images)

    def as_openai(self) -> dict[str, object]:
        if not self.images:
            return {"role": self.role, "content": self.text}
        parts: list[dict[str, object]] = [{"type": "text", "text": self.text}] if self.text.strip() else []
        return {"role": self.role, "content": parts + [image.as_openai() for image in self.images]}


@dataclass
class GenerationRequest:
    model: str
    messages: list[dict[str, object]]
    max_tokens: int
    temperature: float
    # The prompt tokens that fit beside the answer: the context less `max_tokens`.
    budget: int = 0
    # The prompt as estimated here (the endpoint's own count may differ).
    estimated_tokens: int = 0
    # The answer goes on from its saved text (Continue): the last message is
    # that text, and the model writes what follows it.
    continues: bool = False
    dropped_turns: int = 0
    # Set when the answer is known without asking the model (e.g. the
    # knowledge base does not cover the question).
    canned_answer: str | None = None
    sources: list = field(default_factory=list)
    # Attachment ids of images in the history that the prompt leaves out to fit.
    dropped_images: list = field(default_factory=list)

    @property
    def extra_body(self) -> dict[str, object]:
        if not self.continues:
            return {}
        # vLLM's names for "write on from the last assistant message" (in
        # Mistral mode it marks that message as a prefix, as Mistral's API does).
        return {"continue_final_message": True, "add_generation_prompt": False}


def conversation_turns(reply: Message) -> list[Turn]:
    """The alternating turns that lead up to `reply` on its own branch, oldest first."""
    earlier = Message.objects.filter(conversation_id=reply.conversation_id, created_at__lte=reply.created_at).exclude(
        pk=reply.pk
    )
    if reply.parent_id is None:
        history = list(earlier.order_by("created_at", "id"))  # written before branches existed
    else:
        by_id: dict[int | None, Message] = {message.pk: message for message in earlier}
        history, node = [], by_id.get(reply.parent_id)
        while node is not None:
            history.append(node)
            node = by_id.get(node.parent_id)
        history.reverse()
    if registry.images is not None:
        prefetch_related_objects(history, *registry.images.relations)
    turns: list[Turn] = []
    for message in history:
        if message.role == Message.Role.ASSISTANT:
            usable = message.status in (Message.Status.DONE, Message.Status.STOPPED) and message.content.strip()
            if not usable or not turns or turns[-1].role != "user":
                continue
            turns.append(Turn("assistant", message.content, [message]))
        elif turns and turns[-1].role == "user":
            turns[-1].text += "\n\n" + message.content
            turns[-1].messages.append(message)
        else:
            turns.append(Turn("user", message.content, [message]))
    return turns


def trim_to_budget(system: str, turns: list[Turn], budget: int) -> tuple[list[Turn], int]:
    """Keep the newest turns that fit in `budget` tokens; returns (kept, dropped count)."""
    if not turns:
        return [], 0
    used = estimate_tokens(system) + turns[-1].tokens
    kept = [turns[-1]]
    for turn in reversed(turns[:-1]):
        if used + turn.tokens > budget:
            break
        used += turn.tokens
        kept.insert(0, turn)
    # The first turn after the system prompt must be the user's.
    while kept and kept[0].role != "user":
        kept.pop(0)
    return kept, len(turns) - len(kept)


def add_images(turns: list[Turn], model: str) -> None:
    """Give each turn the images attached to its messages, costed for how `model` reads them."""
    if registry.images is None:
        return
    for turn in turns:
        turn.images = registry.images.for_messages(turn.messages, model)


def leave_out_images(system: str, turns: list[Turn], budget: int, latest_too: bool = False) -> None:
    """Replace the oldest images by a note until the turns fit in `budget` tokens.

    Images beyond what one request may carry go first. The latest turn's
    images (what the user is asking about now) go only with `latest_too`,
    after older turns have been dropped.
    """
    images = [image for turn in turns for image in turn.images if not image.left_out]
    for image in images[: max(0, len(images) - settings.INFERENCE_MAX_IMAGES)]:
        image.left_out = True
    candidates = [image for turn in (turns if latest_too else turns[:-1]) for image in turn.images]
    for image in candidates:
        if estimate_tokens(system) + sum(turn.tokens for turn in turns) <= budget:
            break
        image.left_out = True


def prompt_budget(max_tokens: int) -> int:
    """Prompt tokens the estimate may fill: the context less the answer, less a margin for estimating."""
    margin = int(settings.INFERENCE_CONTEXT_TOKENS * settings.INFERENCE_CONTEXT_MARGIN)
    return settings.INFERENCE_CONTEXT_TOKENS - max_tokens - margin


def build_request(reply: Message, estimate_budget: int | None = None) -> GenerationRequest:
    """The request for `reply`, its history trimmed to fit.

    `estimate_budget` replaces the estimated tokens the prompt may fill, where
    the endpoint counted more than estimated or refused the prompt as too long.
    """
    conversation = reply.conversation
    bot = conversation.bot or Bot.objects.default_for(conversation.owner)
    system = (bot.system_prompt if bot and bot.system_prompt else settings.SYSTEM_PROMPT).strip()
    temperature = bot.sampling_temperature if bot else settings.INFERENCE_TEMPERATURE
    # An API client may ask for a shorter answer or another temperature (chatapp.api).
    asked = registry.overrides_for(reply)
    max_tokens = answer_token_limit(bot, asked.max_tokens if asked is not None else None)
    if asked is not None:
        temperature = temperature if asked.temperature is None else asked.temperature
    # Continue: the answer's saved text is part of the prompt, and stays whole.
    so_far = reply.content if reply.content.strip() else ""
    budget = prompt_budget(max_tokens) if estimate_budget is None else estimate_budget
    budget -= estimate_tokens(so_far) if so_far else 0
    history = conversation_turns(reply)
    knowledge_base = registry.knowledge_base
    grounding = knowledge_base.ground(bot, history, system, reply) if knowledge_base else Grounding(system)
    system = grounding.system
    add_images(history, bot.model_name if bot else settings.INFERENCE_MODEL)
    leave_out_images(system, history, budget)
    turns, dropped = trim_to_budget(system, history, budget)
    leave_out_images(system, turns, budget, latest_too=True)
    kept = {id(turn) for turn in turns}
    dropped_images = [
        image.attachment_id for turn in history for image in turn.images if image.left_out or id(turn) not in kept
    ]
    messages: list[dict[str, object]] = [{"role": "system", "content": system}]
    messages += [turn.as_openai() for turn in turns]
    if so_far:
        messages.append({"role": "assistant", "content": so_far})
    estimated = (
        estimate_tokens(system) + sum(turn.tokens for turn in turns) + (estimate_tokens(so_far) if so_far else 0)
    )
    return GenerationRequest(
        model=bot.model_name if bot else settings.INFERENCE_MODEL,
        messages=messages,
        max_tokens=max_tokens,
        temperature=temperature,
        budget=settings.INFERENCE_CONTEXT_TOKENS - max_tokens,
        estimated_tokens=estimated,
        continues=bool(so_far),
        dropped_turns=dropped,
        dropped_images=dropped_images,
        canned_answer=grounding.canned_answer,
        sources=grounding.sources,
    )
