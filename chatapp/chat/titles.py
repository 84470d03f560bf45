"""Short conversation titles from the first question.

A short question is its own title. A long one keeps its key words: the
opening courtesies ("Hi, can you please…") and the small words go, so that
two long questions starting alike still get titles that tell them apart.
"""

import re

from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_FRENCH, STOPWORDS_GERMAN

MAX_CHARS = 48
SMALL_WORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_FRENCH) | frozenset(STOPWORDS_GERMAN)
OPENING = re.compile(
    r"^(?:(?:hi|hello|hey|bonjour|salut|hallo)\b[\s,!.]*)?"
    r"(?:(?:please|pls|can you|could you|would you|will you|i need you to|i want you to|i'd like you to|"
    r"help me(?: to)?|i have a question|quick question)\b[\s,:!.]*)*",
    re.IGNORECASE,
)
FIRST_SENTENCE = re.compile(r"(?<=[.?!])\s+|\n")


def title_for(text: str) -> str:
    """A title of at most MAX_CHARS characters for a conversation that starts with `text`."""
    text = text.strip()
    text = OPENING.sub("", text) or text
    line = " ".join(next((part for part in FIRST_SENTENCE.split(text) if part.strip()), "").split())
    if not line:
        return "Image"
    if len(line) > MAX_CHARS:
        line = _key_words(line)
    return line[0].upper() + line[1:]


def _key_words(line: str) -> str:
    kept: list[str] = []
    for word in line.split():
        bare = word.strip(".,;:!?()[]\"'").lower()
        if not bare or bare in SMALL_WORDS:
            continue
        if len(" ".join([*kept, word])) > MAX_CHARS:
            break
        kept.append(word.rstrip(".,;:"))
    return " ".join(kept) or line[: MAX_CHARS - 1].rstrip() + "…"
