"""Grounding a knowledge-base bot's answer in the published entries.

`ground` and `finalize` are the knowledge base's side of the core's answer path
(`chatapp.chat.extensions`, registered in `apps.py`): `ground` runs for bots with
`uses_knowledge_base`. The latest question (with the conversation's earlier
ones, for a follow-up) is searched and decided (`search.py`):

- answer: in `quote` mode the best entry's own text is the answer, with
  "Related" links to other matching entries; no model, nothing invented. Its
  citation is the message's first source (the chat's Sources block, the API's
  `sources`), not a line of the text. In `generate` mode the model writes
  from the numbered entries, citing them inline ("[1]"), and `finalize`
  checks the result once the stream has ended.
- unsure: no assertion, the closest entries as links; recorded for reviewers.
- not covered: a fixed reply; recorded for reviewers.

The mode follows the model (FAQ_ANSWER_MODES, default FAQ_ANSWER_MODE): the
small CPU model paraphrases badly and invents commands, so it quotes. Whether
to answer is decided once, by `decision.py`, for every mode; a generated
answer is then checked lexically (`groundedness.py`) before it is final.

Each source records its `use`: "quoted" (its text is the answer), "related"
and "closest" (linked), or "answer" (given to the model to write from).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NotRequired, TypedDict

from django.conf import settings
from django.urls import reverse

from chatapp.chat import extensions
from chatapp.documents.reading import sentences
from chatapp.faq import actions
from chatapp.faq.decision import ANSWER, UNSURE, Decision
from chatapp.faq.groundedness import check, cited_numbers, stems
from chatapp.faq.index import Hit, near_exact
from chatapp.faq.search import search, visible_entry_ids

if TYPE_CHECKING:
    from chatapp.chat.models import Bot, Message
    from chatapp.chat.prompt import Turn

QUOTE = "quote"
GENERATE = "generate"
ANSWER_MODES = (QUOTE, GENERATE)
# Sources the answer's text links to without drawing on them.
LINKED = ("related", "closest")

NOT_COVERED_TEXT = (
    "The team knowledge base does not cover this question, so I would rather not guess. "
    "I have noted it so that someone can add an answer to the FAQ."
)
UNSURE_TEXT = "I'm not sure the knowledge base covers this. The closest entries are:"
INSTRUCTIONS = (
    "Answer the user's question using only the knowledge base sources below (FAQ entries and passages "
    "of the team's documents). "
    "After each statement, cite the source it comes from by its number in brackets, like [1]. "
    "If the sources do not answer the question, say that the knowledge base does not cover it."
)
# Another entry is linked under a quoted answer when it scores at least this share of the first.
RELATED_SHARE = 0.5
# In a quoted passage, sentences sharing at least this share of the best sentence's
# question words are highlighted.
HIGHLIGHT_SHARE = 0.8


class Source(TypedDict):
    """A source as the message keeps it (`Message.sources`)."""

    number: int
    kind: str  # a SourceKind
    id: int
    key: str
    question: str
    url: str
    score: float
    cited: bool
    use: str
    # Passages only.
    title: NotRequired[str]
    document: NotRequired[str]
    section: NotRequired[str]
    page: NotRequired[int | None]


@dataclass
class Grounding(extensions.Grounding):
    """The core's grounding, with what was decided and how the answer is written."""

    decision: Decision | None = None
    mode: str = QUOTE


# What `finalize` returns: the core saves `text`, `sources` and `rejected_draft`.
FinalAnswer = extensions.FinalAnswer


def answer_mode(model_name: str) -> str:
    mode = settings.FAQ_ANSWER_MODES.get(model_name, settings.FAQ_ANSWER_MODE)
    return mode if mode in ANSWER_MODES else QUOTE


def source(number: int, hit: Hit, use: str, cited: bool = False) -> Source:
    """A source as the message keeps it; `question` is what its link reads (a passage's citation label)."""
    document = hit.document
    shape: Source = {
        "number": number,
        "kind": document.kind.value,
        "id": document.id,
        "key": document.key,
        "question": document.label if document.is_passage else document.question,
        "url": document.url if document.is_passage else reverse("faq:entry", args=[document.key]),
        "score": hit.score,
        "cited": cited,
        "use": use,
    }
    if document.is_passage:
        shape |= {
            "title": document.title,
            "document": document.file_name,
            "section": document.section,
            "page": document.page,
        }
    return shape


def highlighted(text: str, question: str) -> str:
    """A passage with the sentences that answer `question` in bold: those sharing most of its content words.

    Table rows are left as they are: a table answers as a whole.
    """
    asked = stems(question)
    if not asked:
        return text.strip()
    paragraphs: list[tuple[str, list[tuple[str, int]]]] = []
    for paragraph in text.strip().split("\n\n"):
        if " | " in paragraph:
            paragraphs.append((paragraph, []))
            continue
        parts = sentences(paragraph) or [paragraph]
        paragraphs.append((paragraph, [(part, len(stems(part) & asked)) for part in parts]))
    best = max((score for _, scored in paragraphs for _, score in scored), default=0)
    if best == 0:
        return text.strip()
    written = []
    for paragraph, scored in paragraphs:
        if not scored:
            written.append(paragraph)
            continue
        written.append(
            " ".join(
                f"**{part.strip()}**" if score >= max(1, HIGHLIGHT_SHARE * best) and "*" not in part else part
                for part, score in scored
            )
        )
    return "\n\n".join(written)


def passage_quote(hit: Hit, question: str, sources: list[Source]) -> str:
    """A document answer in quote mode: the passage, the answering sentences highlighted."""
    return quote_answer(highlighted(hit.document.answer, question), sources)


def entry_link(item: Source) -> str:
    question = item["question"].replace("[", "(").replace("]", ")")
    return f"[{item['number']}] [{question}]({item['url']})"


def quote_answer(answer: str, sources: list[Source]) -> str:
    """The entry's own text and links to the related entries: nothing but the knowledge base.

    The entry quoted is source [1], cited under the answer: repeating it in the
    text would show the citation twice.
    """
    text = answer.strip()
    related = [item for item in sources if item["use"] == "related"]
    if related:
        text += "\n\nRelated: " + " · ".join(entry_link(item) for item in related)
    return text


def unsure_answer(sources: list[Source]) -> str:
    return UNSURE_TEXT + "\n\n" + "\n".join(f"- {entry_link(item)}" for item in sources)


def quote_sources(hits: list[Hit]) -> list[Source]:
    return [source(1, hits[0], "quoted", cited=True)] + [
        source(number, hit, "related") for number, hit in enumerate(hits[1:], 2)
    ]


def entries_prompt(system: str, hits: list[Hit]) -> str:
    blocks = [
        f"[{number}] {hit.document.question}\n{hit.document.answer.strip()}" for number, hit in enumerate(hits, 1)
    ]
    return f"{system}\n\n{INSTRUCTIONS}\n\nKnowledge base sources:\n\n" + "\n\n".join(blocks)


def ground(bot: Bot | None, turns: list[Turn], system: str, reply: Message) -> Grounding:
    """The system prompt, sources and maybe a ready answer for `reply`'s latest question."""
    if not (bot and bot.uses_knowledge_base) or not turns or turns[-1].role != "user":
        return Grounding(system)
    question = turns[-1].text
    context = [turn.text for turn in turns[:-1] if turn.role == "user"]
    mode = answer_mode(bot.model_name)
    decision = search(question, context=context, visible=visible_entry_ids(reply.conversation.owner))
    if decision.outcome != ANSWER:
        actions.note_question(question, decision, message=reply)
    if not decision.covered:
        return Grounding(system, canned_answer=NOT_COVERED_TEXT, decision=decision, mode=mode)
    if decision.outcome == UNSURE:
        sources = [source(number, hit, "closest") for number, hit in enumerate(decision.hits, 1)]
        return Grounding(system, sources=sources, canned_answer=unsure_answer(sources), decision=decision, mode=mode)
    best, *others = decision.hits
    hits = [best] + [hit for hit in others if hit.rank_score >= RELATED_SHARE * best.rank_score]
    if mode == QUOTE or near_exact(question, best.document, settings.FAQ_NEAR_EXACT):
        sources = quote_sources(hits)
        text = (
            passage_quote(best, question, sources)
            if best.document.is_passage
            else quote_answer(best.document.answer, sources)
        )
        return Grounding(system, sources=sources, canned_answer=text, decision=decision, mode=mode)
    sources = [source(number, hit, "answer") for number, hit in enumerate(hits, 1)]
    return Grounding(entries_prompt(system, hits), sources=sources, decision=decision, mode=mode)


def mark_cited(sources: list[Source], text: str) -> list[Source]:
    """`sources` with `cited` set for each entry the answer refers to by number."""
    numbers = cited_numbers(text)
    # Links ("Related: [2] …", "closest entries") carry numbers too, but assert nothing.
    return [
        {**item, "cited": item.get("cited") or (item.get("use") not in LINKED and item.get("number") in numbers)}
        for item in sources
    ]


def finalize(reply: Message, text: str, sources: list[Source]) -> FinalAnswer:
    """The answer to save once the model's stream has ended.

    A generated answer that cites nothing, cites an entry it was not given, or
    states what its entries do not support is replaced by the quote answer;
    the model's text is kept for reviewers. A database read and the lexical
    check: nothing here waits on the model.
    """
    given = [item for item in sources if item.get("use") == "answer"]
    if not given:
        return FinalAnswer(text, mark_cited(sources, text))
    found = current_texts([item["id"] for item in given])
    texts = {item["number"]: "\n".join(found[item["id"]]) for item in given if item["id"] in found}
    verdict = check(text, texts)
    if verdict.grounded:
        return FinalAnswer(text, mark_cited(sources, text))
    first = given[0]
    if first["id"] not in found:
        # The entry was withdrawn meanwhile: nothing left to quote.
        return FinalAnswer(NOT_COVERED_TEXT, [], rejected_draft=text)
    renumbered: list[Source] = [
        {**item, "use": "quoted" if number == 1 else "related", "cited": number == 1, "number": number}
        for number, item in enumerate([first] + [item for item in given[1:] if item["id"] in found], 1)
    ]
    return FinalAnswer(quote_answer(found[first["id"]][1], renumbered), renumbered, rejected_draft=text)


def current_texts(ids: list[int]) -> dict[int, tuple[str, str]]:
    """(heading, text) of the sources still published, by id (entries positive, passages negated)."""
    from chatapp.documents.models import Passage
    from chatapp.faq.models import FAQEntry

    entries = FAQEntry.objects.published().filter(pk__in=[id for id in ids if id > 0])
    passages = Passage.objects.usable().select_related("document").filter(pk__in=[-id for id in ids if id < 0])
    found = {entry.pk: (entry.question, entry.answer) for entry in entries}
    found |= {-passage.pk: (passage.citation_label, passage.text) for passage in passages}
    return found
