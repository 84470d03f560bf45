"""An admin uploads a PDF and a Word file in a real browser, watches them become ready, and a
citation's link opens the document at the passage, highlighted and in view; someone outside the
document's group gets "not found"."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from chatapp.documents.models import Document, Passage
from tests.support.accounts import sign_in
from tests.support.conversations import ensure_bots
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)

DEV_SET = Path(__file__).resolve().parents[2] / "chatapp" / "documents" / "data" / "brewery"


@pytest.fixture
def app(worker):
    with serve_app() as url:
        yield url


def test_uploaded_documents_become_ready_and_citations_open_them_at_the_passage(browser, app, admin, alice, bob):
    context = browser.new_context(viewport={"width": 900, "height": 500})
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, app, admin)

    page.goto(f"{app}/admin/documents/document/upload/")
    page.set_input_files("input[name=uploads]", [DEV_SET / "cellar-handbook.pdf", DEV_SET / "cleaning-schedule.docx"])
    page.get_by_role("button", name="Upload", exact=True).click()
    page.wait_for_url(f"{app}/admin/documents/document/")
    # The list refreshes itself until both are processed.
    page.locator("td.field-status_with_progress", has_text="Ready").nth(1).wait_for(timeout=60_000)
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert any("Cellar handbook" in row and "Ready" in row for row in rows)
    assert any("Cleaning schedule" in row and "Ready" in row for row in rows)

    cans = Passage.objects.get(document__original_name="cellar-handbook.pdf", heading_path__endswith="3.2 Cans")
    assert cans.citation_label == f"Cellar handbook › 3 Packaging › 3.2 Cans (p. {cans.page})"
    page.goto(f"{app}{cans.get_absolute_url()}")
    cited = page.locator(".passage-cited")
    assert "50 ppb" in cited.inner_text()
    in_view = cited.evaluate("e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight }")
    assert in_view
    assert page.locator("#passage-1").evaluate("e => e.getBoundingClientRect().bottom < 0")  # scrolled past the top

    # A user asks what only the PDF answers: the answer quotes the passage and its citation opens it.
    ensure_bots()
    asker = browser.new_context(viewport={"width": 900, "height": 500}).new_page()
    sign_in(asker, app, alice)
    asker.get_by_label("Bot").select_option(label="Team FAQ")
    composer = asker.get_by_role("textbox", name="Message")
    composer.fill("What is the limit for dissolved oxygen in a finished can?")
    composer.press("Enter")
    answer = asker.locator('article.message.assistant[data-status="done"]')
    answer.wait_for(timeout=120_000)
    assert "50 ppb" in answer.inner_text()
    label = f"Cellar handbook › 3 Packaging › 3.2 Cans (p. {cans.page})"
    answer.get_by_role("link", name=label).first.click()
    asker.wait_for_url(f"{app}{cans.get_absolute_url()}")
    assert "50 ppb" in asker.locator(".passage-cited").inner_text()

    # Scoped to a group: its pages are "not found" for anyone outside it.
    handbook = Document.objects.get(original_name="cellar-handbook.pdf")
    handbook.groups.add(Group.objects.create(name="Brewers"))
    outsider = browser.new_context().new_page()
    sign_in(outsider, app, bob)
    for url in (cans.get_absolute_url(), handbook.get_original_url()):
        response = outsider.goto(f"{app}{url}")
        assert response.status == 404
    context.close()
