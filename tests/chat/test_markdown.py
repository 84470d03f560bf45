"""One sanitizer for every path: live chunks, the saved transcript, the final frame."""

from html.parser import HTMLParser

import pytest

from chatapp.chat.events import message_payload
from chatapp.chat.models import Conversation, Message
from chatapp.markdown import render_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    '<a href="https://x" onclick="alert(1)">x</a>',
    "![x](https://example.com/a.png)",
    "<iframe src=https://evil></iframe>",
]


class LiveMarkup(HTMLParser):
    """Collects what a browser would act on: tags, event handlers, link targets."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.attributes = set(), []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes += attrs


@pytest.mark.parametrize("attack", ATTACKS)
def test_markup_from_the_model_is_never_live(attack):
    markup = LiveMarkup(render_markdown(attack))
    assert not markup.tags & {"script", "img", "iframe"}
    assert not [name for name, _ in markup.attributes if name.startswith("on")]
    assert not [value for name, value in markup.attributes if name == "href" and not value.startswith("https://")]


def test_code_blocks_are_highlighted_and_escaped():
    html = render_markdown("```python\nprint('<b>hi</b>')\n```")
    assert "<pre>" in html and 'class="language-python"' in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_lists_tables_and_links_render(settings):
    settings.ANSWER_LINK_HOSTS = ["example.com"]
    html = render_markdown("- a\n- b\n\n| x | y |\n|---|---|\n| 1 | 2 |\n\n[docs](https://example.com)")
    assert "<li>a</li>" in html and "<table>" in html
    assert 'href="https://example.com"' in html and "noopener" in html


@pytest.mark.django_db
def test_history_and_live_frames_use_the_same_renderer(alice, client):
    conversation = Conversation.objects.create(owner=alice, title="t")
    reply = Message.objects.append(
        conversation=conversation, role="assistant", content="<script>x</script> **bold**", status="done"
    )
    assert message_payload(reply)["html"] == render_markdown(reply.content)
    client.force_login(alice)
    page = client.get(f"/c/{conversation.pk}/").content.decode()
    assert render_markdown(reply.content) in page
    assert "<script>x</script>" not in page


def test_table_columns_keep_their_alignment_as_classes_the_policy_allows():
    html = render_markdown("| a | b | c |\n|:--|--:|:-:|\n| 1 | 2 | 3 |")
    assert '<td class="align-left">1</td>' in html and '<td class="align-right">2</td>' in html
    assert '<th class="align-center">c</th>' in html and "style" not in html
