"""The OpenAI shapes of what the API answers: model lists, completions and their chunks."""

import json
import re
from collections.abc import Callable, Iterable

from chatapp.chat.models import Bot, Message

# A Markdown link to a page of this site ("[VPN](/faq/vpn/)"): outside the browser it needs the host.
SITE_LINK = re.compile(r"\]\((/[^)\s]*)")


def absolute_links(text: str, absolute: Callable[[str], str]) -> str:
    """`text` with its links to this site's pages made absolute, for clients that are not on the site."""
    return SITE_LINK.sub(lambda match: f"]({absolute(match.group(1))}", text)


def model_object(bot: Bot) -> dict[str, object]:
    return {
        "id": bot.slug,
        "object": "model",
        "created": 0,
        "owned_by": "system",
        "name": bot.name,
        "description": bot.description,
    }


def model_list(bots: Iterable[Bot]) -> dict[str, object]:
    return {"object": "list", "data": [model_object(bot) for bot in bots]}


def usage(reply: Message) -> dict[str, int]:
    prompt, completion = reply.prompt_tokens or 0, reply.completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def finish_reason(reply: Message, max_tokens: int | None) -> str:
    if reply.status == Message.Status.STOPPED:
        return "abort"  # as vLLM says of a generation ended before its end
    if reply.finish_reason == Message.FinishReason.LENGTH:
        return "length"
    if reply.completion_tokens and max_tokens and reply.completion_tokens >= max_tokens:
        return "length"
    return "stop"


def sources(reply: Message, absolute: Callable[[str], str]) -> list[dict[str, object]]:
    """The knowledge-base sources the answer drew on (its text cites them as [n]): entries and passages.

    A passage also carries its document's title and file name, its section and page.
    """
    return [
        {
            "number": source["number"],
            "kind": source.get("kind", "entry"),
            "key": source["key"],
            "question": source["question"],
            "url": absolute(source["url"]),
            "cited": source.get("cited", False),
            **{name: source.get(name) for name in PASSAGE_FIELDS if source.get("kind") == "passage"},
        }
        for source in reply.sources or ()
    ]


PASSAGE_FIELDS = ("title", "document", "section", "page")


class Completion:
    """One answer in OpenAI's shapes; `model` is the bot slug the client asked for."""

    def __init__(
        self,
        reply: Message,
        model: str,
        created: float,
        max_tokens: int | None = None,
        absolute: Callable[[str], str] = str,
    ) -> None:
        self.reply = reply
        self.id = f"chatcmpl-{reply.pk}"
        self.model = model
        self.created = int(created)
        self.max_tokens = max_tokens
        self.absolute = absolute

    def extras(self, reply: Message) -> dict[str, object]:
        extra: dict[str, object] = {"conversation_id": reply.conversation_id}
        if reply.sources:
            extra["sources"] = sources(reply, self.absolute)
        return extra

    def whole(self, reply: Message) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": absolute_links(reply.content, self.absolute),
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": finish_reason(reply, self.max_tokens),
                }
            ],
            "usage": usage(reply),
            **self.extras(reply),
        }

    def chunk(
        self, delta: dict[str, object], finish: str | None = None, with_usage: bool = False, **extra: object
    ) -> dict[str, object]:
        chunk: dict[str, object] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        if with_usage:
            # With include_usage every chunk has the field; only the last has a value.
            chunk["usage"] = None
        return chunk

    def usage_chunk(self, reply: Message) -> dict[str, object]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage(reply),
        }


def event(data: object) -> str:
    """One server-sent event frame."""
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


DONE = "data: [DONE]\n\n"
