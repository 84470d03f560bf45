"""The whole app in a real browser: Debian's Chromium driven by Playwright, daphne, the worker, the model."""

import os

import pytest

from tests.support.processes import serve_app

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Per module, not per session: while Playwright runs, its event loop counts as
# running in this thread, which breaks async tests and async_to_sync after it.
@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    # Playwright's sync API keeps an event loop in this thread; the ORM calls of
    # the tests around it are still plain synchronous code. Only while this
    # module's browser runs: later async tests get Django's check back.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_app(transactional_db, worker, model_service):
    """The whole app: daphne, the Celery worker and the real model."""
    with serve_app(INFERENCE_URL=model_service) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
