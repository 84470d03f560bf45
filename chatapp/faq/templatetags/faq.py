from django import template

register = template.Library()


def shown_sources(sources):
    """The entries to link under an answer: those it cited, else all it was given."""
    sources = [item for item in sources or [] if isinstance(item, dict) and item.get("key")]
    cited = [item for item in sources if item.get("cited")]
    return ("Sources", cited) if cited else ("Related FAQ entries", sources)


@register.inclusion_tag("faq/sources.html")
def message_sources(message):
    label, items = shown_sources(message.sources)
    return {"label": label, "items": items}


@register.inclusion_tag("faq/retrieved_sources.html")
def retrieved_sources(message):
    """For reviewers: every entry retrieved for an answer, its score and whether the answer cited it."""
    return {"items": [item for item in message.sources or [] if isinstance(item, dict) and item.get("key")]}
