"""A knowledge-base answer as a person sees it: Chromium, daphne, the worker and the real model."""

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sample_faq", "team_faq_bot")]

ANSWER = "article.message.assistant"


def test_the_faq_bot_answer_links_its_source_entry(page, live_app, alice):
    sign_in(page, live_app, alice)
    page.get_by_label("Bot").select_option(label="Team FAQ")
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("How do I get VPN access?")
    composer.press("Enter")

    page.locator(f'{ANSWER}[data-status="done"]').wait_for(timeout=120_000)
    answer = page.locator(ANSWER)
    assert "WireGuard" in answer.locator(".message-body").inner_text()
    assert answer.locator(".sources-label").inner_text() == "Sources"
    assert answer.get_by_role("link", name="[1] How do I get VPN access?").is_visible()

    page.reload()
    assert page.locator(ANSWER).get_by_role("link", name="[1] How do I get VPN access?").is_visible()
    page.locator(ANSWER).get_by_role("link", name="[1] How do I get VPN access?").click()
    page.wait_for_url(f"{live_app}/faq/vpn-access/")
    assert page.get_by_role("heading", level=1).inner_text() == "How do I get VPN access?"
