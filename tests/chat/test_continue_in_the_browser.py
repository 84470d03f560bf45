"""In the browser: an answer cut at the length limit says so, and Continue makes it whole."""

import pytest

from benchmarks.fake_engine import answer_text
from chatapp.chat.models import Message
from tests.support.accounts import sign_in
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "article.message.assistant"


@pytest.fixture
def app_on_the_stand_in(transactional_db, worker, vllm_stand_in, settings):
    settings.INFERENCE_MAX_TOKENS = 12
    with serve_app(INFERENCE_URL=vllm_stand_in.base_url, INFERENCE_MODEL=settings.INFERENCE_MODEL) as url:
        yield url


def test_a_cut_answer_offers_continue_and_continuing_appends_to_it(page, app_on_the_stand_in, alice):
    sign_in(page, app_on_the_stand_in, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("seed=21 tokens=20 rate=200")
    composer.press("Enter")

    answer = page.locator(f'{ANSWER}[data-status="done"]')
    answer.wait_for()
    note = answer.locator(".length-cut")
    note.wait_for()
    assert "Cut at the length limit" in note.inner_text()

    note.get_by_role("button", name="Continue").click()
    page.wait_for_function(
        "() => { const a = document.querySelector('article.message.assistant');"
        " return a && a.dataset.attempt === '2' && a.dataset.status === 'done'; }"
    )
    reply = Message.objects.get(role="assistant")
    assert reply.content == answer_text(21, 20) and reply.finish_reason == "stop"
    assert page.locator(ANSWER).count() == 1
    assert page.locator(f"{ANSWER} .length-cut").is_hidden()

    page.reload()
    assert page.locator(f"{ANSWER} .length-cut").is_hidden()


def test_a_saved_cut_answer_shows_the_note_after_a_reload(page, app_on_the_stand_in, alice):
    sign_in(page, app_on_the_stand_in, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("seed=22 tokens=30 rate=200")
    composer.press("Enter")
    page.locator(f'{ANSWER}[data-status="done"]').wait_for()

    page.reload()
    assert page.locator(f"{ANSWER} .length-cut").is_visible()
    assert page.locator(f"{ANSWER} .continue-answer").is_visible()
