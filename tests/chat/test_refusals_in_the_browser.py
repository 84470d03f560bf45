"""A refused send, as a person sees it: the reason under the composer, the text still there."""

import pytest

from tests.support.accounts import sign_in
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_send_over_the_rate_shows_when_to_retry_and_keeps_the_text(page, alice):
    with serve_app(CHAT_SEND_RATE="1/minute") as url:
        sign_in(page, url, alice)
        composer = page.get_by_role("textbox", name="Message")
        composer.fill("First question")
        composer.press("Enter")
        page.locator("article.message.user").wait_for()
        page.goto(f"{url}/")
        composer.fill("A long question I took minutes to type")
        composer.press("Enter")
        error = page.locator("#composer-error")
        error.filter(has_text="Too many answers asked for").wait_for()
        assert "Try again in" in error.inner_text()
        assert composer.input_value() == "A long question I took minutes to type"
        assert page.get_by_role("button", name="Send").is_enabled()


def test_signing_out_in_another_tab_tells_this_one_and_keeps_the_text(page, alice):
    with serve_app() as url:
        sign_in(page, url, alice)
        composer = page.get_by_role("textbox", name="Message")
        composer.fill("Half-written thought")
        page.wait_for_function("() => document.querySelector('#connection-state').textContent === ''")
        other = page.context.new_page()
        other.goto(f"{url}/")
        other.get_by_role("button", name="Sign out").click()
        page.locator("#connection-state").filter(has_text="You are signed out").wait_for(timeout=15_000)
        assert composer.input_value() == "Half-written thought"
        composer.press("Enter")  # trying to send anyway still says why it cannot go
        assert "You are signed out" in page.locator("#connection-state").inner_text()
        assert composer.input_value() == "Half-written thought"
