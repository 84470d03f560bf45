"""Markdown to safe HTML: the one renderer for live chunks, history, admin and exports.

Raw HTML in the source is escaped by markdown-it, and nh3 (ammonia) then keeps
only an allow-list, so a model or a user can never inject markup or script.
"""

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True)


def _highlight(code, lang, _attrs):
    if not lang:
        return ""
    try:
        lexer = get_lexer_by_name(lang)
    except ClassNotFound:
        return ""
    return highlight(code, lexer, _FORMATTER)


_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "highlight": _highlight}).enable(
    ["table", "strikethrough"]
)

_TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span",
    "table", "thead", "tbody", "tr", "th", "td", "sup",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "span": {"class"},
    "ol": {"start"},
}


def render_markdown(text: str) -> str:
    html = _MARKDOWN.render(text or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
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
