"""Knowledge-base answers as a person sees them: Chromium, daphne, the worker and the model."""

import pytest

from tests.support.accounts import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sample_faq", "team_faq_bot")]

ANSWER = "article.message.assistant"


def ask(page, live_app, user, question):
    sign_in(page, live_app, user)
    page.get_by_label("Bot").select_option(label="Team FAQ")
    composer = page.get_by_role("textbox", name="Message")
    composer.fill(question)
    composer.press("Enter")
    page.locator(f'{ANSWER}[data-status="done"]').wait_for(timeout=120_000)
    return page.locator(ANSWER)


def test_the_faq_bot_answer_cites_its_source_entry_once_under_it(page, live_app, alice):
    answer = ask(page, live_app, alice, "How do I get VPN access?")

    body = answer.locator(".message-body").inner_text()
    assert "WireGuard" in body and "Source" not in body
    assert answer.locator(".sources-label").inner_text() == "Sources"
    assert answer.get_by_role("link", name="[1] How do I get VPN access?").is_visible()
    assert answer.inner_text().count("[1]") == 1
    # Finished live, its actions are inside its card as after a reload.
    card, footer = answer.bounding_box(), answer.locator(".message-footer").bounding_box()
    assert footer["y"] + footer["height"] <= card["y"] + card["height"]

    page.reload()
    assert page.locator(ANSWER).get_by_role("link", name="[1] How do I get VPN access?").is_visible()
    page.locator(ANSWER).get_by_role("link", name="[1] How do I get VPN access?").click()
    page.wait_for_url(f"{live_app}/faq/vpn-access/")
    assert page.get_by_role("heading", level=1).inner_text() == "How do I get VPN access?"


def test_an_in_between_question_shows_not_sure_with_links_to_the_closest_entries(page, live_app, alice):
    answer = ask(page, live_app, alice, "Who approves my VPN request and how long does it take?")

    body = answer.locator(".message-body")
    assert "I'm not sure the knowledge base covers this" in body.inner_text()
    body.get_by_role("link", name="How do I get VPN access?").click()
    page.wait_for_url(f"{live_app}/faq/vpn-access/")


def test_a_generated_answer_refused_by_the_check_says_it_was_replaced(
    page, live_app, alice, settings, team_faq_bot, scripted_engine
):
    team_faq_bot.model = "capable-model"
    team_faq_bot.save()
    settings.FAQ_ANSWER_MODES = {"capable-model": "generate"}
    scripted_engine(answer="Just run `sudo rollback --force` [1].")  # the worker runs in this process
    answer = ask(page, live_app, alice, "Rollback a bad deploy how?")

    assert "Replaced by the knowledge base's own answer" in answer.locator(".message-sources").inner_text()
    assert "sudo rollback" not in answer.locator(".message-body").inner_text()
    assert "/deploy rollback production" in answer.locator(".message-body").inner_text()
    page.reload()
    assert "Replaced by the knowledge base's own answer" in page.locator(ANSWER).inner_text()


def test_an_off_topic_question_gets_an_honest_not_covered(page, live_app, alice):
    answer = ask(page, live_app, alice, "What is the capital of Australia?")

    assert "does not cover this question" in answer.locator(".message-body").inner_text()
    assert answer.locator(".sources-label").count() == 0


def test_a_follow_up_in_the_same_conversation_is_answered_with_its_context(page, live_app, alice):
    ask(page, live_app, alice, "How do I deploy to production?")
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Can I do that on a Friday?")
    composer.press("Enter")
    follow_up = page.locator(f'{ANSWER}[data-status="done"]').nth(1)
    follow_up.wait_for(timeout=120_000)

    assert "no production deploys on Fridays" in follow_up.locator(".message-body").inner_text()
    assert follow_up.get_by_role("link", name="[1] When are deploy freezes?").is_visible()


def test_this_answers_it_reaches_the_reviewers_and_once_accepted_the_question_is_answered(
    page, browser, live_app, alice, admin
):
    from chatapp.faq.models import Confirmation

    question = "Who approves my VPN request and how long does it take?"
    answer = ask(page, live_app, alice, question)
    confirm = answer.locator(".sources-confirm li").filter(has_text="How do I get VPN access?")
    confirm.get_by_role("button", name="This answers it").click()
    confirm.get_by_role("status").wait_for()
    assert "a reviewer will check it" in confirm.inner_text()
    assert Confirmation.objects.get().entry.key == "vpn-access"

    reviewer = browser.new_page()
    try:
        sign_in(reviewer, live_app, admin)
        reviewer.goto(f"{live_app}/admin/faq/confirmation/")
        row = reviewer.locator("#result_list tr").filter(has_text=question)
        row.get_by_role("button", name="Accept as a phrasing").click()
        reviewer.get_by_text("now gets the answer of").wait_for()
    finally:
        reviewer.close()

    page.goto(f"{live_app}/")
    again = ask(page, live_app, alice, question)
    assert "WireGuard" in again.last.locator(".message-body").inner_text()
    assert again.last.locator(".sources-label").inner_text() == "Sources"
