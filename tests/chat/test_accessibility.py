"""axe-core on the pages people use: no serious or critical accessibility violations.

axe-core comes from npm (package.json); `make test` installs it.
"""

import pytest

from chatapp.faq.models import FAQEntry
from tests.chat.test_ui import CODE_ANSWER, seed, seed_versions
from tests.support.accounts import PASSWORD, sign_in
from tests.support.processes import ROOT, serve_app

pytestmark = pytest.mark.django_db(transaction=True)

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page):
    assert AXE.exists(), "axe-core is missing: run `npm ci` (make test does)"
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        (violation["id"], violation["impact"], [node["target"] for node in violation["nodes"]][:3])
        for violation in violations
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.fixture
def served(transactional_db, redis_service):
    with serve_app() as url:
        yield url


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_chat_faq_sign_in_and_admin_pages_have_no_serious_violations(browser, served, alice, admin, scheme):
    # The pages' CSP forbids inline scripts; only the test's own axe-core is let through.
    context = browser.new_context(color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    conversation = seed(alice, turns=[("How do I print?", CODE_ANSWER), ("Thanks", "You are welcome.")])
    seed_versions(conversation)
    FAQEntry.objects.create(
        key="vpn", question="What is the VPN address?", answer="`vpn.example.com`", status="published"
    )
    found = {}

    page.goto(f"{served}/accounts/login/")
    found["sign-in"] = serious_violations(page)
    sign_in(page, served, alice)
    page.goto(f"{served}/c/{conversation.pk}/")
    page.locator("article.message.user").first.get_by_role("button", name="Edit").click()
    found["chat"] = serious_violations(page)
    page.get_by_role("button", name="Conversation actions").click()
    found["chat, conversation menu open"] = serious_violations(page)
    page.keyboard.press("Escape")
    page.set_viewport_size({"width": 360, "height": 740})
    page.get_by_role("button", name="Conversations").click()
    found["chat on a phone, drawer open"] = serious_violations(page)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"{served}/search/?q=print")
    found["search"] = serious_violations(page)
    page.goto(f"{served}/faq/")
    found["faq list"] = serious_violations(page)
    page.goto(f"{served}/faq/vpn/")
    found["faq entry"] = serious_violations(page)
    page.goto(f"{served}/tokens/")
    page.get_by_role("button", name="Create token").click()
    found["api tokens, one just created"] = serious_violations(page)

    page.context.clear_cookies()
    page.goto(f"{served}/admin/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("input[type=submit]").click()
    page.goto(f"{served}/admin/chat/conversation/{conversation.pk}/change/")
    found["admin transcript"] = serious_violations(page)
    context.close()
    assert found == {name: [] for name in found}
