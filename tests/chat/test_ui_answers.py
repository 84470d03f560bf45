"""Answers from the real model in Chromium: retry, edit and resend, following the stream."""

import pytest

from chatapp.chat.models import Bot, Conversation, Message
from tests.chat.test_ui import seed
from tests.support.accounts import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "article.message.assistant"
DONE = f'{ANSWER}[data-status="done"]'


@pytest.fixture
def short_answers(live_app):
    Bot.objects.update(max_tokens=12)
    return live_app


def test_regenerate_then_edit_and_resend_keep_every_version_browsable(page, short_answers, alice):
    live_app = short_answers
    page.set_default_timeout(90_000)  # answers queue behind whatever else the machine runs
    sign_in(page, live_app, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Name a colour.")
    composer.press("Enter")
    page.locator(DONE).wait_for()
    page.wait_for_function("() => document.getElementById('announcer').textContent.startsWith('Answer finished:')")

    page.locator(ANSWER).get_by_role("button", name="Retry").click()
    page.wait_for_function(
        "() => document.querySelector('article.message.assistant .version-count')?.textContent.trim() === '2 / 2'"
    )
    page.locator(DONE).wait_for()
    assert page.locator(ANSWER).count() == 1
    replies = list(Message.objects.filter(role="assistant").order_by("id"))
    assert len(replies) == 2 and replies[0].parent_id == replies[1].parent_id

    page.locator("article.message.user").get_by_role("button", name="Edit").click()
    edit = page.get_by_role("textbox", name="Edited message")
    assert edit.input_value() == "Name a colour."
    edit.fill("Name a fruit.")
    edit.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('article.message.user .version-count')?.textContent.trim() === '2 / 2'"
    )
    assert page.locator("article.message.user .message-body").inner_text() == "Name a fruit."
    page.locator(DONE).wait_for()

    # The first question, with its two answers, is one click away.
    page.locator("article.message.user").get_by_role("button", name="Previous version").click()
    page.wait_for_function(
        "() => document.querySelector('article.message.user .message-body')?.innerText.trim() === 'Name a colour.'"
    )
    assert page.locator(f"{ANSWER} .version-count").inner_text() == "2 / 2"
    conversation = Conversation.objects.get()
    assert conversation.current_id == replies[1].pk


def test_the_view_follows_the_answer_only_at_the_bottom_and_the_final_html_does_not_jump(page, live_app, alice):
    page.set_default_timeout(90_000)
    conversation = seed(alice, title="Long", turns=[(f"Question {n}", f"Answer {n}.") for n in range(25)])
    sign_in(page, live_app, alice)
    page.goto(f"{live_app}/c/{conversation.pk}/")
    page.evaluate(
        """() => { window.samples = [];
           const tick = () => { const a = [...document.querySelectorAll('article.message.assistant')].pop();
             samples.push([a.dataset.status, a.offsetHeight]);
             requestAnimationFrame(tick); };
           requestAnimationFrame(tick); }"""
    )
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Write a long story about a lighthouse keeper.")
    composer.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('article.message.assistant[data-status=streaming]')?.dataset.seq >= 3"
    )
    at_bottom = "(() => { const t = document.getElementById('transcript'); return t.scrollHeight - t.scrollTop - t.clientHeight < 80; })()"
    assert page.evaluate(at_bottom)

    page.locator("#transcript").evaluate("t => t.scrollTo(0, 0)")
    page.wait_for_timeout(700)  # more chunks arrive meanwhile
    assert page.locator("#transcript").evaluate("t => t.scrollTop") == 0
    jump = page.get_by_role("button", name="Jump to latest")
    assert jump.is_visible()
    jump.click()
    assert page.evaluate(at_bottom)
    page.wait_for_function(
        "() => ['done', 'stopped'].includes([...document.querySelectorAll('article.message.assistant')].pop().dataset.status)"
    )
    page.wait_for_timeout(100)

    samples = page.evaluate("samples")
    last_streaming = max(i for i, (status, _) in enumerate(samples) if status == "streaming")
    streamed_height = samples[last_streaming][1]
    final_height = samples[last_streaming + 1][1]
    assert final_height >= streamed_height, (streamed_height, final_height)
