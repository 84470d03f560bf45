"""The chat as a person meets it: Chromium, daphne, the worker and the real model."""

import time

import pytest

from chatapp.chat import quotas
from chatapp.chat.models import Message
from chatapp.markdown import render_markdown
from tests.support.accounts import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "article.message.assistant"


def as_displayed(page, markdown):
    """The text a browser shows for the server's rendering of `markdown`."""
    return page.evaluate(
        """(html) => { const d = document.createElement('div'); d.className = 'markdown';
           document.querySelector('#transcript').appendChild(d); d.innerHTML = html;
           const text = d.innerText; d.remove(); return text; }""",
        render_markdown(markdown),
    )


def answer_lengths_while_streaming(page, seconds=30):
    lengths = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = page.locator(ANSWER).last.get_attribute("data-status")
        lengths.append(len(page.locator(ANSWER).last.inner_text()))
        if status in ("done", "stopped", "error"):
            break
        page.wait_for_timeout(50)
    return lengths


def test_sign_in_send_watch_the_answer_grow_reload_and_keep_it(page, live_app, alice):
    sign_in(page, live_app, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Write a short poem about tea.")
    composer.press("Enter")

    page.locator(ANSWER).wait_for()
    lengths = answer_lengths_while_streaming(page)
    page.locator(f'{ANSWER}[data-status="done"]').wait_for()
    assert len(set(lengths)) >= 3, lengths  # it grew in several steps, not all at once
    assert page.locator("article.message.user .message-body").inner_text() == "Write a short poem about tea."
    assert composer.input_value() == ""
    assert "/c/" in page.url
    reply = Message.objects.get(role="assistant")
    shown = page.locator(f"{ANSWER} .message-body").inner_text()
    assert shown == as_displayed(page, reply.content)

    page.reload()
    assert page.locator(f"{ANSWER} .message-body").inner_text() == shown
    assert page.get_by_role("link", name="Write a short poem about tea.").is_visible()


def test_reloading_mid_answer_shows_the_text_so_far_and_keeps_streaming(page, live_app, alice):
    sign_in(page, live_app, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Write a long story about a lighthouse keeper.")
    page.get_by_role("button", name="Send").click()
    page.locator(f'{ANSWER}[data-status="streaming"]').wait_for()
    page.wait_for_function("() => document.querySelector('article.message.assistant')?.dataset.seq >= 3")

    page.reload()
    page.locator(f'{ANSWER}[data-status="done"]').wait_for(timeout=60_000)
    reply = Message.objects.get(role="assistant")
    assert reply.status == "done"
    # Everything the model wrote is on the page, once: nothing lost or doubled.
    assert page.locator(f"{ANSWER} .message-body").inner_text() == as_displayed(page, reply.content)


@pytest.mark.parametrize("stop_with", ["the Stop button", "the Escape key"])
def test_stop_keeps_the_partial_answer_marked_stopped(page, live_app, alice, stop_with):
    sign_in(page, live_app, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Write a very long essay about rivers.")
    composer.press("Enter")
    page.wait_for_function("() => document.querySelector('article.message.assistant')?.dataset.seq >= 2")
    if stop_with == "the Stop button":
        page.get_by_role("button", name="Stop").click()
    else:
        page.keyboard.press("Escape")
    page.locator(f'{ANSWER}[data-status="stopped"]').wait_for()
    assert page.get_by_role("button", name="Retry").is_visible()
    assert "Stopped" in page.locator(ANSWER).inner_text()
    assert Message.objects.get(role="assistant").status == "stopped"


def test_a_new_conversation_can_be_renamed_and_deleted_right_away(page, live_app, alice):
    sign_in(page, live_app, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Say hello.")
    composer.press("Enter")
    page.locator(f'{ANSWER}[data-status="done"]').wait_for()

    page.get_by_role("button", name="Conversation actions").click()
    page.get_by_role("button", name="Rename").click()
    page.get_by_role("textbox", name="Title").fill("Greetings")
    page.get_by_role("textbox", name="Title").press("Enter")
    page.get_by_role("heading", name="Greetings").wait_for()
    assert page.get_by_role("link", name="Greetings").is_visible()

    page.get_by_role("button", name="Conversation actions").click()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{live_app}/", timeout=15_000)
    assert page.get_by_role("link", name="Greetings").count() == 0
    assert not Message.objects.exists()


def test_todays_tokens_under_the_name_grow_as_soon_as_an_answer_ends_without_a_reload(page, live_app, alice):
    sign_in(page, live_app, alice)
    today = page.locator(".token-usage")
    assert today.inner_text() == "Today: 0 tokens"
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Name a colour.")
    composer.press("Enter")
    page.locator(f'{ANSWER}[data-status="done"]').wait_for(timeout=90_000)

    spent = quotas.tokens_used_today(owner_ids=[alice.pk])
    assert spent > 0
    page.wait_for_function(
        "(text) => document.querySelector('.token-usage').innerText === text", arg=f"Today: {spent} tokens"
    )
    assert page.evaluate("() => window.sameDocument") is True
