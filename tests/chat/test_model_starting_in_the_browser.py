"""In the browser: a question asked while the model loads says so, then is answered."""

import pytest

from tests.support.accounts import sign_in
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "article.message.assistant"


@pytest.fixture
def app_with_a_loading_model(transactional_db, worker, vllm_stand_in, settings):
    settings.ANSWER_QUEUE_TIMEOUT = 120
    vllm_stand_in.configure(loading=True)
    with serve_app(INFERENCE_URL=vllm_stand_in.base_url, INFERENCE_MODEL=settings.INFERENCE_MODEL) as url:
        yield url


def test_the_page_says_the_model_is_starting_and_the_answer_comes_once_it_is_ready(
    page, app_with_a_loading_model, vllm_stand_in, alice
):
    sign_in(page, app_with_a_loading_model, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("seed=41 tokens=12 rate=200")
    composer.press("Enter")

    state = page.locator(f"{ANSWER} .message-state")
    state.filter(has_text="The model is starting").wait_for()

    vllm_stand_in.configure(loading=False)
    page.locator(f'{ANSWER}[data-status="done"]').wait_for()
    assert "seed" not in page.locator(f"{ANSWER} .message-body").inner_text()  # the engine's answer, not an echo
    assert page.locator(f"{ANSWER} .message-body").inner_text().strip()
    assert page.locator(f"{ANSWER} .message-error").inner_text() == ""
