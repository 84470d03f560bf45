"""Whether a generated answer sticks to the knowledge-base entries it was given.

The cheap check that needs no model, run on every generated answer:

- it must cite at least one entry, and only entries it was given;
- every sentence must share most of its content words with the entries it
  cites (or, if it cites none itself, with those the answer cites), compared
  on English stems so "installing" matches "install";
- anything literal (a number, a command or path in backticks, a URL, a word
  with digits or dashes like `wg0` or `ssh-fork`) must appear in those
  entries as written: the kind of detail a small model invents.

A sentence of one or two content words ("Sure!", "Here is how:") is not
checked: there is nothing in it to support.
"""

import re
from dataclasses import dataclass

from chatapp.faq.analysis import default_analyzer, fold, stem

CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
LITERAL = re.compile(r"`[^`]+`|https?://\S+|\b[\w.-]*\d[\w.-]*\b|\b\w+(?:[-_/.]\w+)+\b")
# Share of a sentence's content words that its entries must contain.
MIN_SUPPORT = 0.6
MIN_CHECKED_WORDS = 3


def cited_numbers(text: str) -> set[int]:
    return {int(number) for group in CITATION.findall(text or "") for number in group.split(",")}


@dataclass
class Verdict:
    grounded: bool
    reason: str = ""


def stems(text: str) -> set[str]:
    # `stem` is cached and locked: a Snowball stemmer keeps state between calls, and workers use threads.
    return {stem(term) for term in default_analyzer().terms(text)}


def literals(text: str) -> set[str]:
    found = set()
    for match in LITERAL.findall(CITATION.sub(" ", text)):
        literal = fold(match.strip("`.,;:!?()[]\"'"))
        # A lone digit is a list's numbering, not a detail to check.
        if literal and not (literal.isdigit() and len(literal) == 1):
            found.add(literal)
    return found


def check(answer: str, entries: dict[int, str], support: bool = True) -> Verdict:
    """`entries`: the text of each entry the answer was given, by its number.

    With `support` off, only the citations are checked (a capable model then
    verifies the content itself).
    """
    cited = cited_numbers(answer)
    if not cited:
        return Verdict(False, "the answer cites no entry")
    unknown = sorted(cited - set(entries))
    if unknown:
        return Verdict(False, f"the answer cites [{unknown[0]}], an entry it was not given")
    if not support:
        return Verdict(True)
    entry_stems = {number: stems(text) for number, text in entries.items()}
    entry_text = {number: fold(text) for number, text in entries.items()}
    for sentence in SENTENCE_END.split(answer):
        own = cited_numbers(sentence) & set(entries)
        sources = own or cited
        plain = CITATION.sub(" ", sentence)
        supporting: set[str] = set().union(*(entry_stems[number] for number in sources))
        reference = " ".join(entry_text[number] for number in sources)
        missing = [literal for literal in literals(plain) if literal not in reference]
        if missing:
            return Verdict(False, f"{missing[0]!r} is not in the cited entries")
        sentence_stems = stems(plain)
        if len(sentence_stems) < MIN_CHECKED_WORDS:
            continue
        if len(sentence_stems & supporting) / len(sentence_stems) < MIN_SUPPORT:
            return Verdict(False, f"the cited entries do not support: {plain.strip()[:120]}")
    return Verdict(True)
