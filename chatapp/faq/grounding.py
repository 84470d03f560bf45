"""Grounding a knowledge-base bot's answer in the published entries.

Called by `chatapp.chat.prompt.build_request` for bots with
`uses_knowledge_base`: the entries found for the latest question go into the
system prompt, numbered, and become the answer's `sources`. When none covers
the question the answer is a fixed "not covered" text and the question is
recorded for the reviewers; when the question is nearly word for word an
entry's, the entry's own text is the answer (small models paraphrase badly).
"""

import re
from dataclasses import dataclass, field

from django.conf import settings

from chatapp.faq.actions import record_unanswered
from chatapp.faq.search import near_exact, search

NOT_COVERED = (
    "The team knowledge base does not cover this question, so I would rather not guess. "
    "I have noted it so that someone can add an answer to the FAQ."
)
INSTRUCTIONS = (
    "Answer the user's question using only the knowledge base entries below. "
    "After each statement, cite the entry it comes from by its number in brackets, like [1]. "
    "If the entries do not answer the question, say that the knowledge base does not cover it."
)
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class Grounding:
    system: str
    sources: list = field(default_factory=list)
    canned_answer: str | None = None


def source(number, hit, cited=False):
    document = hit.document
    return {
        "number": number,
        "id": document.id,
        "key": document.key,
        "question": document.question,
        "url": f"/faq/{document.key}/",
        "score": hit.score,
        "cited": cited,
    }


def entries_prompt(system, hits):
    blocks = [f"[{number}] {hit.document.question}\n{hit.document.answer.strip()}" for number, hit in enumerate(hits, 1)]
    return f"{system}\n\n{INSTRUCTIONS}\n\nKnowledge base entries:\n\n" + "\n\n".join(blocks)


def ground(bot, turns, system, reply):
    """The system prompt, sources and maybe a ready answer for `reply`'s latest question."""
    if not (bot and bot.uses_knowledge_base) or not turns or turns[-1].role != "user":
        return Grounding(system)
    question = turns[-1].text
    result = search(question)
    if not result.covered:
        # A retry asks again: the question is on the list once.
        if not reply.unanswered_questions.exists():
            record_unanswered(question, conversation=reply.conversation, message=reply, best_score=result.best_score)
        return Grounding(system, canned_answer=NOT_COVERED)
    # The runners-up go along only when they too match the question somewhat.
    hits = [result.best] + [hit for hit in result.hits[1:] if hit.score >= result.min_score / 2]
    if near_exact(question, hits[0].document, settings.FAQ_NEAR_EXACT):
        answer = f"{hits[0].document.answer.strip()}\n\nSource: [1]"
        return Grounding(system, sources=[source(1, hits[0], cited=True)], canned_answer=answer)
    return Grounding(entries_prompt(system, hits), sources=[source(number, hit) for number, hit in enumerate(hits, 1)])


def cited_numbers(text):
    return {int(number) for group in CITATION.findall(text or "") for number in group.split(",")}


def mark_cited(sources, text):
    """`sources` with `cited` set for each entry the answer refers to by number."""
    numbers = cited_numbers(text)
    return [{**item, "cited": item.get("cited") or item.get("number") in numbers} for item in sources]
