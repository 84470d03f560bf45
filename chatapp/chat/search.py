"""Searching one user's conversations by title and message text.

PostgreSQL ranks with its full-text search (stemmed English, web-search
syntax) and cuts the highlighted passages itself; SQLite does the same with
its FTS5 index (migration 0009): every word of the query, anywhere in a
message, by its stem. Titles match when they hold every word. Either way the
passages come back escaped, with only <mark> added around the matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
)
from django.db import connection
from django.db.models import QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chatapp.chat.models import Conversation, Message

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

CONFIG = "english"
MAX_MESSAGES = 60
PASSAGE_CHARS = 160
# Markers no message contains, swapped for <mark> once the passage is escaped.
START, STOP = "\x02", "\x03"


@dataclass
class Hit:
    message: Message
    passage: SafeString


@dataclass
class Result:
    conversation: Conversation
    title: SafeString
    hits: list[Hit] = field(default_factory=list)


def search(user: User | AnonymousUser, query: str) -> list[Result]:
    query = " ".join(query.split())[:200]
    if not query:
        return []
    conversations = Conversation.objects.visible_to(user)
    messages = Message.objects.visible_to(user).select_related("conversation")
    if connection.vendor == "postgresql":
        hits = _full_text(messages, query)
    elif connection.vendor == "sqlite":
        hits = _sqlite_full_text(messages, query)
    else:
        hits = [
            Hit(message, _mark_substring(message.content, query))
            for message in messages.filter(content__icontains=query).order_by("-created_at")[:MAX_MESSAGES]
        ]
    results: dict[int, Result] = {}
    titled = conversations
    for word in query.split():
        titled = titled.filter(title__icontains=word)
    for conversation in titled.order_by("-updated_at")[:MAX_MESSAGES]:
        results[conversation.pk] = Result(conversation, _mark_substring(conversation.title, query, whole=True))
    for hit in hits:
        conversation = hit.message.conversation
        result = results.setdefault(conversation.pk, Result(conversation, mark_safe(escape(str(conversation)))))
        if len(result.hits) < 3:
            result.hits.append(hit)
    return list(results.values())


def _full_text(messages: QuerySet[Message], query: str) -> list[Hit]:
    search_query = SearchQuery(query, search_type="websearch", config=CONFIG)
    # Matches the expression of the GIN index created in migration 0004.
    vector = SearchVector("content", config=CONFIG)
    found = (
        messages.annotate(search=vector)
        .filter(search=search_query)
        .annotate(
            rank=SearchRank(vector, search_query),
            passage=SearchHeadline(
                "content", search_query, config=CONFIG, start_sel=START, stop_sel=STOP, max_words=28, min_words=8
            ),
        )
        .order_by("-rank", "-created_at")[:MAX_MESSAGES]
    )
    return [Hit(message, _marked(message.passage)) for message in found]


def _sqlite_full_text(messages: QuerySet[Message], query: str) -> list[Hit]:
    # Each word quoted: FTS5's own syntax (NEAR, OR, column:) never trips on what a user typed.
    terms = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
    visible = messages.values("pk")
    sql, params = visible.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rowid, snippet(chat_message_fts, 0, %s, %s, '…', 28) FROM chat_message_fts"
            f" WHERE chat_message_fts MATCH %s AND rowid IN ({sql}) ORDER BY rank LIMIT %s",
            [START, STOP, terms, *params, MAX_MESSAGES],
        )
        passages = dict(cursor.fetchall())
    found = messages.in_bulk(list(passages))
    return [Hit(found[pk], _marked(passages[pk])) for pk in passages if pk in found]


def _marked(text: str) -> SafeString:
    return mark_safe(escape(text).replace(START, "<mark>").replace(STOP, "</mark>"))


def _mark_substring(text: str, query: str, whole: bool = False) -> SafeString:
    """A passage of `text` around the first match, every match marked."""
    text = " ".join(text.split())
    pattern = re.compile("|".join(re.escape(word) for word in query.split()), re.IGNORECASE)
    match = pattern.search(text)
    if not whole and match and len(text) > PASSAGE_CHARS:
        start = max(0, match.start() - PASSAGE_CHARS // 3)
        text = ("…" if start else "") + text[start : start + PASSAGE_CHARS] + "…"
    return _marked(pattern.sub(lambda m: START + m.group(0) + STOP, text))
