"""The chat page's everyday features in Chromium, on conversations seeded in the database.

No model here: these are about what the page does with what the server has.
Answers streamed by the real model are in test_ui_answers.py.
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from chatapp.chat.models import Conversation, Message
from tests.support.accounts import sign_in
from tests.support.processes import free_port, serve_app

pytestmark = pytest.mark.django_db(transaction=True)

CODE_ANSWER = "Use this:\n\n```python\nprint('hello')\n```\n\nThat prints hello."


@pytest.fixture
def served(transactional_db, redis_service):
    """daphne on the test database, without a worker or a model."""
    with serve_app() as url:
        yield url


def seed(owner, title="Tea questions", turns=(("What is tea?", "A drink."),), updated_at=None):
    conversation = Conversation.objects.create(owner=owner, title=title)
    parent = None
    for question, answer in turns:
        parent = Message.objects.create(conversation=conversation, role="user", content=question, parent=parent)
        parent = Message.objects.create(
            conversation=conversation, role="assistant", content=answer, parent=parent, model="SmolLM2", duration=2.5
        )
    conversation.current = parent
    if updated_at:
        conversation.updated_at = updated_at
    conversation.save()
    return conversation


def seed_versions(conversation):
    """A second answer to the last question: version 2 of 2, shown."""
    last = conversation.current
    newer = Message.objects.create(
        conversation=conversation, role="assistant", content="A hot drink from leaves.", parent=last.parent
    )
    conversation.current = newer
    conversation.save()
    return last, newer


def test_copy_an_answer_and_a_code_block_and_see_copied(browser, served, alice):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    conversation = seed(alice, turns=[("How do I print?", CODE_ANSWER)])
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    answer = page.locator("article.message.assistant")
    assert "SmolLM2" in answer.locator(".message-meta").inner_text()
    assert "2.5 s" in answer.locator(".message-meta").inner_text()

    answer.get_by_role("button", name="Copy code").click()
    answer.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == "print('hello')"
    answer.locator(".copy-message").click()
    page.wait_for_function("() => document.querySelector('article.assistant .copy-message').textContent === 'Copied'")
    assert page.evaluate("navigator.clipboard.readText()") == CODE_ANSWER
    context.close()


def test_browse_answer_versions_with_the_keyboard(page, served, alice):
    conversation = seed(alice)
    first, _second = seed_versions(conversation)
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    answer = page.locator("article.message.assistant")
    assert answer.locator(".version-count").inner_text() == "2 / 2"
    assert "A hot drink from leaves." in answer.inner_text()

    answer.get_by_role("button", name="Previous version").focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('article.assistant .version-count').textContent.trim() === '1 / 2'"
    )
    assert "A drink." in page.locator("article.message.assistant").inner_text()
    conversation.refresh_from_db()
    assert conversation.current_id == first.pk
    page.reload()
    assert page.locator("article.message.assistant .version-count").inner_text() == "1 / 2"


def test_search_opens_the_conversation_at_the_matching_message(page, served, alice, bob):
    turns = [(f"Question {n}", f"Answer number {n}.") for n in range(30)]
    turns[3] = ("Where is the lighthouse?", "On the northern cape.")
    conversation = seed(alice, title="Long one", turns=turns)
    seed(bob, title="Bob's lighthouse", turns=[("lighthouse?", "lighthouse.")])
    sign_in(page, served, alice)
    page.keyboard.press("Control+k")
    search = page.get_by_role("searchbox", name="Search conversations")
    assert search.evaluate("el => el === document.activeElement")
    search.fill("lighthouse")
    search.press("Enter")
    page.wait_for_url("**/search/?q=lighthouse")
    assert page.locator("mark").first.inner_text().lower() == "lighthouse"
    assert "Bob" not in page.locator("main").inner_text()
    page.locator(".search-hit").first.click()
    found = page.locator("article.message.found")
    found.wait_for()
    assert "lighthouse" in found.inner_text()
    assert found.is_visible() and found.evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    assert conversation.pk == int(page.url.split("/c/")[1].split("/")[0])


def test_sidebar_groups_pin_archive_and_export(page, served, alice):
    seed(alice, title="Last month", updated_at=timezone.now() - timedelta(days=30))
    seed(alice, title="Three days ago", updated_at=timezone.now() - timedelta(days=3))
    conversation = seed(alice, title="This morning")
    sign_in(page, served, alice)
    groups = page.locator(".conversation-group:not([hidden]) h2").all_text_contents()
    assert groups == ["Today", "Previous 7 days", "Older"]

    page.goto(f"{served}/c/{conversation.pk}/")
    actions = page.get_by_role("button", name="Conversation actions")
    actions.click()
    page.get_by_role("button", name="Pin").click()
    pinned = page.locator('.conversation-group[data-group="Pinned"]')
    pinned.get_by_role("link", name="This morning").wait_for()
    actions.click()
    assert page.get_by_role("button", name="Unpin").is_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Export as JSON").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert data["title"] == "This morning" and data["messages"][1]["content"] == "A drink."

    actions.click()
    page.get_by_role("button", name="Archive").click()
    page.wait_for_url(f"{served}/")
    assert "archived" in page.locator(".flash").inner_text()
    assert page.locator(".conversation-group").get_by_role("link", name="This morning").count() == 0
    page.get_by_text("Archived (1)").click()
    assert page.locator(".archived-group").get_by_role("link", name="This morning").is_visible()


def test_shortcuts_help_theme_toggle_remembered_and_dark_mode(browser, served, alice):
    context = browser.new_context(color_scheme="dark")
    page = context.new_page()
    seed(alice)
    sign_in(page, served, alice)
    background = "getComputedStyle(document.body).backgroundColor"
    dark = page.evaluate(background)
    assert dark == "rgb(19, 19, 22)"
    toggle = page.locator("#theme-toggle")
    assert toggle.inner_text() == "Light theme"  # what a click does, from the dark system theme

    toggle.click()  # the user prefers light here, whatever the system says
    assert toggle.inner_text() == "Dark theme"
    page.reload()
    assert page.evaluate(background) == "rgb(246, 246, 248)"

    page.keyboard.press("Control+/")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    assert dialog.is_visible() and "New conversation" in dialog.inner_text()
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    page.keyboard.press("Shift+Escape")
    assert page.evaluate("document.activeElement.id") == "message-input"

    composer = page.get_by_role("textbox", name="Message")
    before = composer.bounding_box()["height"]
    composer.fill("line\n" * 6)
    assert composer.bounding_box()["height"] > before * 2  # it grew with the text
    page.keyboard.press("Control+Shift+O")
    page.wait_for_url(f"{served}/")
    context.close()


def test_a_phone_sized_window_has_a_drawer_and_nothing_overflows(browser, served, alice):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    page = context.new_page()
    conversation = seed(
        alice, title="On the phone", turns=[("Show a table", "| a | b |\n|---|---|\n| 1 | 2 |\n\n" + CODE_ANSWER)]
    )
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert not page.get_by_role("link", name="New conversation").is_visible()
    assert page.get_by_role("textbox", name="Message").is_visible()
    assert page.get_by_role("button", name="Send").is_visible()

    page.get_by_role("button", name="Conversations").click()
    assert page.get_by_role("link", name="On the phone").is_visible()
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.getElementById('sidebar').classList.contains('open')")
    page.get_by_role("button", name="Conversation actions").click()
    assert page.get_by_role("button", name="Rename").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    context.close()


def test_a_failed_answer_says_what_happened_and_what_to_do(page, served, alice):
    conversation = seed(alice)
    Message.objects.filter(pk=conversation.current_id).update(
        status="error", error="The model service cannot answer right now.", error_code="unavailable"
    )
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    answer = page.locator("article.message.assistant")
    assert "The model service cannot answer right now." in answer.inner_text()
    assert "wait a moment, then press Retry" in answer.inner_text()
    assert answer.get_by_role("button", name="Retry").is_visible()


def test_connection_lost_and_back_is_shown_quietly(page, alice, transactional_db, redis_service):
    port = free_port()
    conversation = seed(alice)
    with serve_app(port) as url:
        sign_in(page, url, alice)
        page.goto(f"{url}/c/{conversation.pk}/")
        page.wait_for_timeout(500)
    state = page.locator("#connection-state")
    page.wait_for_function("() => document.getElementById('connection-state').textContent.includes('reconnecting')")
    with serve_app(port):
        page.wait_for_function(
            "() => document.getElementById('connection-state').textContent === 'Reconnected.'", timeout=20_000
        )
        page.wait_for_function("() => document.getElementById('connection-state').textContent === ''")
    assert state.get_attribute("role") == "status"


def test_every_control_is_reached_with_tab_and_shows_where_the_focus_is(page, served, alice):
    conversation = seed(alice, turns=(("What is tea?", CODE_ANSWER),))
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    controls = page.evaluate(
        """() => [...document.querySelectorAll('a[href], button, input, select, textarea')]
            .filter((el) => !el.disabled && el.offsetParent !== null && el.tabIndex >= 0)
            .map((el) => el.getAttribute('aria-label') || el.textContent.trim() || el.name || el.id)"""
    )
    reached, unmarked = [], []
    for _ in range(len(controls) + 10):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
                const el = document.activeElement, style = getComputedStyle(el);
                if (el === document.body) return null;  // past the last control, before the first again
                return {
                    name: el.getAttribute('aria-label') || el.textContent.trim() || el.name || el.id,
                    marked: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
                };
            }"""
        )
        if focused is None:
            continue
        reached.append(focused["name"])
        if not focused["marked"]:
            unmarked.append(focused["name"])

    assert set(controls) <= set(reached)
    assert {"Message", "Send", "New conversation", "Copy", "Retry"} <= set(reached)
    assert unmarked == []


def test_an_answer_waiting_for_a_worker_says_so_after_a_few_seconds(page, served, alice):
    conversation = seed(alice)
    question = Message.objects.create(
        conversation=conversation, role="user", content="Anyone there?", parent=conversation.current
    )
    waiting = Message.objects.create(
        conversation=conversation, role="assistant", status="queued", parent=question, queued_at=timezone.now()
    )
    conversation.current = waiting
    conversation.save()
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")

    answer = page.locator(f'article.message.assistant[data-id="{waiting.pk}"]')
    assert "Waiting for the model" in answer.inner_text()
    answer.get_by_text("Waiting for a free worker: other answers are being written").wait_for(timeout=10_000)


def test_the_header_is_one_row_with_a_menu_rename_in_place_and_delete_with_undo(browser, served, alice):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    conversation = seed(alice, title="Tea questions")
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    header = page.locator(".chat-header")
    title = page.get_by_role("heading", name="Tea questions")
    menu_button = page.get_by_role("button", name="Conversation actions")
    # One title, one row: the actions wait in the menu.
    assert page.get_by_text("Tea questions", exact=True).and_(page.locator("main *")).count() == 1
    assert not page.get_by_role("button", name="Delete").is_visible()
    assert abs(title.bounding_box()["y"] - menu_button.bounding_box()["y"]) < 20
    assert header.bounding_box()["height"] < 60

    menu_button.click()
    page.get_by_role("button", name="Rename").click()
    box = page.get_by_role("textbox", name="Title")
    assert box.input_value() == "Tea questions" and not title.is_visible()
    box.fill("Green tea")
    box.press("Enter")
    page.get_by_role("heading", name="Green tea").wait_for()
    assert page.locator("#conversation-list").get_by_role("link", name="Green tea").is_visible()

    menu_button.click()
    page.get_by_role("button", name="Delete").click()
    assert "Conversation deleted." in page.get_by_role("status").filter(has_text="deleted").inner_text()
    assert not page.locator("#conversation-list").get_by_role("link", name="Green tea").is_visible()
    page.get_by_role("button", name="Undo").click()
    assert page.locator("#conversation-list").get_by_role("link", name="Green tea").is_visible()
    assert Conversation.objects.filter(pk=conversation.pk).exists()

    menu_button.click()
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(f"{served}/", timeout=15_000)
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    context.close()


def test_retry_keeps_the_failed_answer_as_an_earlier_version(page, served, alice):
    conversation = seed(alice)
    Message.objects.filter(pk=conversation.current_id).update(
        status="error",
        content="A dri",
        error="The worker writing this answer stopped unexpectedly.",
        error_code="worker_lost",
    )
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    answer = page.locator("article.message.assistant")
    assert answer.inner_text().count("Retry") == 2  # the advice once, and its button
    answer.get_by_role("button", name="Retry").click()

    page.locator("article.message.assistant .version-count", has_text="2 / 2").wait_for()
    assert page.locator("article.message.assistant").get_attribute("data-status") in (
        "queued",
        "streaming",
    )  # a new attempt
    page.get_by_role("button", name="Previous version").click()
    page.locator("article.message.assistant .version-count", has_text="1 / 2").wait_for()
    failed = page.locator("article.message.assistant")
    assert "A dri" in failed.inner_text() and "stopped unexpectedly" in failed.inner_text()
    assert Message.objects.filter(role="assistant", status="error").count() == 1


def test_a_paste_over_the_limit_stays_whole_and_the_offline_notice_leaves_when_the_network_returns(
    browser, served, alice, settings
):
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, served, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("x" * 20_050)  # as a paste does
    assert len(composer.input_value()) == 20_050
    assert "50 over the limit" in page.locator("#char-count").inner_text()
    composer.press("Enter")
    assert "too long" in page.locator("#composer-error").inner_text()
    assert len(composer.input_value()) == 20_050

    context.set_offline(True)
    page.get_by_text("You are offline").wait_for()
    context.set_offline(False)
    page.wait_for_function("() => !document.getElementById('connection-state').textContent.includes('offline')")
    context.close()
