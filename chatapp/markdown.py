"""Markdown to safe HTML: the one renderer for live chunks, history, admin and exports.

Raw HTML in the source is escaped by markdown-it, and nh3 (ammonia) then keeps
only an allow-list, so a model or a user can never inject markup or script.

Rendering has a budget, because some Pygments lexers take quadratic time
(20,000 characters fenced as `make` cost 12 s): a code block is highlighted
only up to HIGHLIGHT_MAX_CHARS, one message's highlighting stops after
HIGHLIGHT_BUDGET_SECONDS of CPU (checked between tokens), and a text beyond
RENDER_MAX_CHARS is not parsed as Markdown at all. Past any of these the
text is shown plain and escaped, never lost. The chat's worker renders off
its relay loop (chatapp.chat.relay).

Links are where a model's words can hurt: "[Verify your session](https://evil…)"
reads as the team's own. Only links within this site ("/faq/vpn/") and to
hosts in ANSWER_LINK_HOSTS stay clickable; every link to another host shows
that host next to its words, and any other link is text. A leaf module: it
imports nothing from the apps.
"""

import threading
import time
from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from html import escape
from io import StringIO
from urllib.parse import urlsplit

import nh3
from django.conf import settings
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import _TokenType
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)

# Past these a code block is shown plain. The largest block still highlighted
# costs a slow lexer about 0.2 s in one regular expression (the devicetree
# lexer on 3,000 letters); the CPU budget stops every other slow lexer
# between tokens.
HIGHLIGHT_MAX_CHARS = 3000
HIGHLIGHT_BUDGET_SECONDS = 0.1
# A text this long is shown as plain paragraphs (answers and questions are far shorter).
RENDER_MAX_CHARS = 100_000


class _Budget(threading.local):
    """The CPU this thread may still spend on highlighting the message it renders."""

    deadline: float | None = None


_budget = _Budget()


class _OverBudget(Exception):
    pass


def _budgeted(tokens: Iterator[tuple[_TokenType, str]], deadline: float) -> Iterator[tuple[_TokenType, str]]:
    for token in tokens:
        if time.thread_time() > deadline:
            raise _OverBudget
        yield token


def _lexer(lang: str) -> Lexer | None:
    try:
        return get_lexer_by_name(lang)
    except ClassNotFound:
        return None


def _highlight(code: str, lang: str, _attrs: str) -> str:
    """Highlighted HTML for a fenced block, or "" for markdown-it's plain, escaped one."""
    deadline = _budget.deadline
    if not lang or len(code) > HIGHLIGHT_MAX_CHARS or deadline is None or time.thread_time() > deadline:
        return ""
    lexer = _lexer(lang)
    if lexer is None:
        return ""
    try:
        tokens = list(_budgeted(lexer.get_tokens(code), deadline))
    except _OverBudget:
        _budget.deadline = 0.0  # the rest of this message is not highlighted either
        return ""
    out = StringIO()
    _FORMATTER.format(tokens, out)
    return out.getvalue()


def link_host(href: str) -> str:
    """The host a link really leads to ("" for relative, mailto: and broken ones)."""
    try:
        parts = urlsplit(href)
        return (parts.hostname or "") if parts.scheme in ("http", "https", "") else ""
    except ValueError:
        return ""


def is_local(href: str) -> bool:
    """A path on this site ("/faq/vpn/"), never "//host/" nor "javascript:"."""
    try:
        parts = urlsplit(href)
    except ValueError:
        return False
    return (
        not parts.scheme
        and not parts.netloc
        and href.startswith("/")
        and not href.startswith("//")
        and "\\" not in href
    )


def link_allowed(href: str) -> bool:
    if is_local(href):
        return True
    host = link_host(href)
    return bool(host) and any(fnmatchcase(host, pattern.lower()) for pattern in settings.ANSWER_LINK_HOSTS)


# Bidirectional controls: in a link's words, U+202E would reverse the host shown after them.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def _closing(tokens: Sequence[Token], index: int) -> Token | None:
    """The link_close that ends the link_open at `index` (links do not nest); its words lose bidi controls."""
    for position in range(index + 1, len(tokens)):
        if tokens[position].type == "link_close":
            return tokens[position]
        tokens[position].content = tokens[position].content.translate(_BIDI_CONTROLS)
    return None


def _link_open(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[index]
    href = str(token.attrGet("href") or "")
    closing = _closing(tokens, index)
    if closing is not None:
        closing.meta["host"] = ("" if is_local(href) else (link_host(href) or href)).translate(_BIDI_CONTROLS)
        closing.meta["live"] = link_allowed(href)
    if not link_allowed(href):
        return ""
    return renderer.renderToken(tokens, index, options, env)


def _link_close(renderer: RendererHTML, tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType) -> str:
    token = tokens[index]
    host = escapeHtml(token.meta.get("host", ""))
    shown = f'<span class="link-host"> ({host})</span>' if host else ""
    if token.meta.get("live"):
        return renderer.renderToken(tokens, index, options, env) + shown
    return shown


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight}).enable(
    ["table", "strikethrough"]
)
_MARKDOWN.add_render_rule("link_open", _link_open)
_MARKDOWN.add_render_rule("link_close", _link_close)
ALIGNMENTS = {"text-align:left": "align-left", "text-align:center": "align-center", "text-align:right": "align-right"}


def _alignment_classes(state: StateCore) -> None:
    """A table column's alignment as a class: the page's CSP allows no inline style."""
    for token in state.tokens:
        if token.type in ("th_open", "td_open") and token.attrs.get("style") in ALIGNMENTS:
            token.attrs["class"] = ALIGNMENTS[str(token.attrs.pop("style"))]


_MARKDOWN.core.ruler.push("alignment_classes", _alignment_classes)

_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "a",
    "span",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "sup",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class"},
    "ol": {"start"},
    "th": {"class"},
    "td": {"class"},
}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    # Second line of defence behind the link rules: no href leaves here unless allowed.
    if tag == "a" and attribute == "href" and not link_allowed(value):
        return None
    if tag in ("th", "td") and attribute == "class" and value not in ALIGNMENTS.values():
        return None
    return value


def plain_html(text: str) -> str:
    """`text` escaped, as paragraphs: what a message too large to render shows."""
    return "".join(f"<p>{escape(part)}</p>" for part in text.split("\n\n") if part.strip())


def render_markdown(text: str) -> str:
    """Safe HTML for `text`, within the rendering budget (see the module's doc)."""
    text = text or ""
    if len(text) > RENDER_MAX_CHARS:
        return plain_html(text)
    return _render(text, tuple(settings.ANSWER_LINK_HOSTS))


# The same message is viewed again and again (its page, the reviewer's): its
# HTML is kept for the next view. Keyed by the link hosts, which change the HTML.
@lru_cache(maxsize=128)
def _render(text: str, _link_hosts: tuple[str, ...]) -> str:
    _budget.deadline = time.thread_time() + HIGHLIGHT_BUDGET_SECONDS
    try:
        html = _MARKDOWN.render(text)
    finally:
        _budget.deadline = None
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_attribute_filter,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
    )


@lru_cache(maxsize=1)
def highlight_css() -> str:
    return _FORMATTER.get_style_defs(".markdown pre")


class IncrementalMarkdown:
    """Renders a growing text so that each call costs what is new, not the whole text.

    Text up to the last blank line outside a code fence is complete: it is
    rendered once, and later calls render only the block still being written.
    The final text is rendered whole, once, when the answer is saved.
    """

    def __init__(self) -> None:
        self.done_chars = 0
        self.done_html = ""
        self.fences = 0  # code fences opened or closed in the complete part

    def render(self, text: str) -> str:
        start = self.done_chars
        boundary = None
        fences = self.fences
        position = start
        while True:
            blank = text.find("\n\n", position)
            if blank < 0:
                break
            fences_here = fences + text.count("```", position, blank)
            if fences_here % 2 == 0:
                boundary, self.fences = blank + 2, fences_here
            fences, position = fences_here, blank + 2
        if boundary is not None:
            self.done_html += render_markdown(text[start:boundary])
            self.done_chars = boundary
        return self.done_html + render_markdown(text[self.done_chars :])
