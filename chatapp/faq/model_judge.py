"""Asking a capable model two short questions about a knowledge-base answer.

- Coverage: given the question and the closest entries, which entry answers it, or none.
- Verification: does a generated answer state only what its entries say (yes/no).

Both are one non-streamed request to the OpenAI-compatible endpoint, with a
short timeout (FAQ_MODEL_TIMEOUT) and a reply of a few tokens. They run in a
worker thread, where blocking is fine. Any failure (slow, unreachable, an
answer that is neither a number nor yes/no) returns None, and the caller keeps
its lexical decision: the model can only refine the answer, never block it.
"""

import logging
import re
from collections.abc import Iterable

import httpx
from django.conf import settings

log = logging.getLogger(__name__)

COVERAGE_INSTRUCTIONS = (
    "You decide whether a knowledge base answers a question. Below are the question and numbered entries. "
    "Reply with the number of the one entry that answers the question, or 0 if none of them does. "
    "Reply with the number only."
)
VERIFY_INSTRUCTIONS = (
    "You check an answer against the knowledge base entries it was written from. "
    "Reply yes if everything the answer states is supported by the entries, no if anything is not. "
    "Reply with one word: yes or no."
)
NUMBER = re.compile(r"\b(\d+)\b")
YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def entries_block(entries: Iterable[tuple[int, str, str]]) -> str:
    """`entries`: (number, question, answer) triples."""
    return "\n\n".join(f"[{number}] {question}\n{answer.strip()}" for number, question, answer in entries)


def ask(model: str, instructions: str, content: str, max_tokens: int = 4) -> str | None:
    """The model's short reply, or None when it fails or takes longer than FAQ_MODEL_TIMEOUT."""
    headers = {"Authorization": f"Bearer {settings.INFERENCE_API_KEY}"} if settings.INFERENCE_API_KEY else {}
    body = {
        "model": model,
        "messages": [{"role": "system", "content": instructions}, {"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "stream": False,
    }
    if settings.INFERENCE_JUDGE_PRIORITY:
        # Ahead of answers in vLLM's queue: the answer it gates waits for it.
        body["priority"] = settings.INFERENCE_JUDGE_PRIORITY
    try:
        response = httpx.post(
            settings.INFERENCE_URL.rstrip("/") + "/chat/completions",
            json=body,
            headers=headers,
            timeout=httpx.Timeout(settings.FAQ_MODEL_TIMEOUT),
        )
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"] or "")
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        log.warning("FAQ model check unavailable, deciding lexically: %s", error.__class__.__name__)
        return None


def which_entry(model: str, question: str, entries: list[tuple[int, str, str]]) -> int | None:
    """The number of the entry that answers `question`, 0 for none, None when the model cannot tell us."""
    reply = ask(model, COVERAGE_INSTRUCTIONS, f"Question: {question}\n\nEntries:\n\n{entries_block(entries)}")
    if reply is None:
        return None
    if re.search(r"\bnone\b", reply, re.IGNORECASE):
        return 0
    found = NUMBER.search(reply)
    numbers = {number for number, _, _ in entries}
    if found is None or (int(found.group(1)) not in numbers and int(found.group(1)) != 0):
        return None
    return int(found.group(1))


def supported(model: str, answer: str, entries: list[tuple[int, str, str]]) -> bool | None:
    """Whether the model finds `answer` supported by `entries`; None when it cannot tell us."""
    reply = ask(model, VERIFY_INSTRUCTIONS, f"Entries:\n\n{entries_block(entries)}\n\nAnswer:\n{answer}")
    found = YES_NO.search(reply or "")
    if found is None:
        return None
    return found.group(1).lower() == "yes"
