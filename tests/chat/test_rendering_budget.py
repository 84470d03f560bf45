"""No message can make rendering blow up: highlighting and Markdown keep to a budget.

Some Pygments lexers take quadratic time (20,000 characters fenced as `make`
took 12 s to render, and the worker rendering the same text on its relay loop
stalled every other answer until one ended as `worker_lost`). Past the budget a
block is shown plain and escaped. The worker-stall test runs as it was found:
two users, a real worker, and the fake engine repeating the block back.
"""

import asyncio
import html
import re
import time

import pytest
from asgiref.sync import sync_to_async
from pygments.lexers import get_all_lexers

from chatapp import markdown
from chatapp.chat import lifecycle
from chatapp.chat.models import Message
from chatapp.markdown import HIGHLIGHT_MAX_CHARS, render_markdown
from tests.support.websocket import receive_until, reply_in

SLOW_LEXERS = ["make", "systemd", "cfengine3", "devicetree", "registry"]
# Text that makes those lexers backtrack: long runs without the character they look for.
HOSTILE = ["a" * 20, "\\" * 20, "=" * 20, "[" * 20, "x: " * 7, "{" * 20, '"' * 20, "#" * 20, "$(" * 10]


def fenced(lang, body):
    return f"```{lang}\n{body}\n```\n"


def visible_text(rendered):
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


@pytest.mark.parametrize("lang", SLOW_LEXERS)
def test_a_20000_character_block_in_a_slow_lexer_is_shown_plain_and_whole(lang, settings):
    body = "a" * 19_980  # one line: the lexers' worst case (8.5 s for `make` without the budget)
    started = time.thread_time()
    rendered = render_markdown(fenced(lang, body))
    spent = time.thread_time() - started
    print(f"\n{lang}: 20,000 characters rendered in {spent * 1000:.0f} ms of CPU")
    assert "<span" not in rendered  # not highlighted
    assert visible_text(rendered).strip() == body.strip()


@pytest.mark.parametrize("lang", SLOW_LEXERS)
def test_a_short_block_in_the_same_lexers_is_still_highlighted(lang):
    rendered = render_markdown(fenced(lang, "all: build\n\tcc -o app main.c  # compile\n"))
    assert "<span" in rendered and "main.c" in visible_text(rendered)


def test_a_block_just_over_the_highlighting_limit_is_plain():
    code = "x = 1\n" * (HIGHLIGHT_MAX_CHARS // 6 + 1)
    assert "<span" not in render_markdown(fenced("python", code))
    assert "<span" in render_markdown(fenced("python", "x = 1\n"))


def test_a_text_beyond_the_rendering_limit_is_shown_as_escaped_paragraphs():
    text = "<script>alert(1)</script> **not bold**\n\n" * (markdown.RENDER_MAX_CHARS // 30)
    rendered = render_markdown(text)
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered and "<strong>" not in rendered


def test_a_fuzz_over_every_pygments_lexer_at_the_message_size_limit_stays_within_the_budget(settings):
    """Each lexer gets one message as long as a message may be: a block of hostile text just under
    the highlighting limit (what a lexer is given at most), then one block over it (shown plain)."""
    aliases = [names[0] for _name, names, _files, _types in get_all_lexers() if names]
    block = HIGHLIGHT_MAX_CHARS - 20
    worst, costs = 0.0, []
    for number, lang in enumerate(aliases):
        blocks = [
            fenced(lang, (pattern * (block // len(pattern) + 1))[:block])
            for pattern in (HOSTILE[number % len(HOSTILE)],)
        ]
        rest = settings.MAX_MESSAGE_CHARS - sum(len(b) for b in blocks) - len(fenced(lang, ""))
        message = "".join(blocks) + fenced(lang, HOSTILE[number % len(HOSTILE)][0] * rest)
        assert len(message) == settings.MAX_MESSAGE_CHARS
        started = time.thread_time()
        rendered = markdown._render(message, ())
        spent = time.thread_time() - started
        worst = max(worst, spent)
        costs.append((spent, lang))
        assert "<script" not in rendered
    print(
        f"\n{len(aliases)} lexers, one {settings.MAX_MESSAGE_CHARS:,}-character message each: "
        f"worst {worst * 1000:.0f} ms of CPU (highlighting budget {markdown.HIGHLIGHT_BUDGET_SECONDS * 1000:.0f} ms); "
        "slowest: " + ", ".join(f"{lang} {spent * 1000:.0f} ms" for spent, lang in sorted(costs)[-5:])
    )


# --- the worker stall, as found ----------------------------------------------------


@pytest.fixture
def repeating_engine(fake_engine, settings, worker):
    settings.INFERENCE_URL = fake_engine.base_url
    settings.INFERENCE_MAX_TOKENS = 4096
    # A relay loop stalled this long loses its answers to the reaper.
    settings.GENERATION_LEASE_SECONDS = 3
    return fake_engine


@pytest.mark.django_db(transaction=True)
async def test_a_huge_make_block_repeated_by_the_model_does_not_stall_another_users_answer(
    alice, bob, socket_for, repeating_engine, alice_client
):
    bobs = await socket_for(bob)
    await bobs.send_json_to({"type": "send", "conversation_id": None, "text": "seed=7 tokens=150 rate=25"})
    frames = await receive_until(bobs, lambda f: f.get("type") == "chunk")
    bobs_reply = reply_in(frames)

    alices = await socket_for(alice)
    block = fenced("make", "a" * 19_600)  # one line: 8.5 s of CPU to highlight, unbudgeted
    await alices.send_json_to({"type": "send", "conversation_id": None, "text": "repeat=1\n" + block})
    alices_reply = reply_in(await receive_until(alices, lambda f: reply_in([f]) is not None))
    reaped = 0
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        # The reaper, as Celery beat runs it: it ends answers whose worker stopped renewing its lease.
        reaped += (await sync_to_async(lifecycle.reap)())["ended_orphans"]
        bob_answer = await sync_to_async(Message.objects.get)(pk=bobs_reply)
        alices_answer = await sync_to_async(Message.objects.get)(pk=alices_reply)
        if not bob_answer.is_active and not alices_answer.is_active:
            break
        await asyncio.sleep(0.5)
    assert reaped == 0
    assert bob_answer.status == Message.Status.DONE and bob_answer.error_code == ""
    assert alices_answer.status == Message.Status.DONE and "a" * 199 in alices_answer.content
    conversation = alices_answer.conversation_id
    started = time.monotonic()
    page = await sync_to_async(alice_client.get)(f"/c/{conversation}/")
    print(f"\nthe conversation page with the repeated block: {time.monotonic() - started:.2f} s")
    assert page.status_code == 200 and "a" * 199 in page.content.decode()
