"""Every page works under the Content-Security-Policy: Chromium reports no violation.

Real daphne, worker and model for the chat; the admin pages as a superuser.
"""

import pytest

from chatapp.chat.models import Conversation, Message
from tests.support.accounts import sign_in
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)

ANSWER = "article.message.assistant"


def watch_violations(page):
    """CSP violations as the browser reports them: console errors and securitypolicyviolation events."""
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => "
        "console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return violations


def test_the_chat_streams_an_answer_under_the_policy(page, live_app, alice):
    violations = watch_violations(page)
    response = page.goto(f"{live_app}/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    sign_in(page, live_app, alice)
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Say hello in five words.")
    composer.press("Enter")
    page.locator(f'{ANSWER}[data-status="done"]').wait_for(timeout=90_000)
    assert page.locator(f"{ANSWER} .message-body").inner_text().strip()
    page.reload()
    page.locator(f'{ANSWER}[data-status="done"]').wait_for()
    page.goto(f"{live_app}/faq/")
    assert violations == []


def test_the_admin_pages_work_under_the_policy(page, admin, alice):
    conversation = Conversation.objects.create(owner=alice, title="Code")
    Message.objects.append(conversation=conversation, role="user", content="Show me Python")
    Message.objects.append(conversation=conversation, role="assistant", content="```python\nprint('hi')\n```")
    with serve_app() as url:
        violations = watch_violations(page)
        sign_in(page, url, admin)
        for path in [
            "/admin/",
            "/admin/chat/conversation/",
            f"/admin/chat/conversation/{conversation.pk}/change/",
            "/admin/review/metrics/",
            "/admin/faq/unansweredquestion/",
            "/admin/chat/tokenquota/add/",
            "/admin/auth/user/",
        ]:
            response = page.goto(url + path)
            assert response.status == 200, path
            assert "content-security-policy" in response.headers, path
        assert page.locator("select").count() > 0
        assert violations == []
        # The watch itself works: an inline script is blocked and reported.
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1'; document.body.append(s); }"
        )
        page.wait_for_timeout(200)
        assert violations and page.evaluate("() => window.ran") is None


def test_a_model_written_link_shows_its_real_host_and_only_allowed_hosts_are_clickable(page, alice):
    conversation = Conversation.objects.create(owner=alice, title="Links")
    Message.objects.append(conversation=conversation, role="user", content="Where do I log in?")
    Message.objects.append(
        conversation=conversation,
        role="assistant",
        content="[Verify your session](https://evil.example/?c=SECRET) or read [the docs](https://docs.example.com/vpn).",
    )
    with serve_app(ANSWER_LINK_HOSTS="docs.example.com") as url:
        sign_in(page, url, alice)
        page.goto(f"{url}/c/{conversation.pk}/")
        body = page.locator(f"{ANSWER} .message-body")
        assert body.inner_text().strip() == "Verify your session (evil.example) or read the docs (docs.example.com)."
        assert body.locator("a[href*='evil.example']").count() == 0
        link = body.get_by_role("link", name="the docs")
        assert link.get_attribute("href") == "https://docs.example.com/vpn"
        assert link.get_attribute("rel") == "noopener noreferrer nofollow"
