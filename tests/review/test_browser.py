"""A user flags a bad answer in the chat; a reviewer finds it in the admin, reads it and acts on it."""

import pytest
from django.test import Client

from chatapp.faq.models import FAQEntry
from chatapp.review.models import ConversationReview, Feedback
from tests.support.conversations import answer_of, converse, question_of
from tests.support.pictures import attach_image

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in_page(browser, live, user):
    # A session made here rather than the sign-in form: these tests hash
    # passwords with a hasher the server process does not accept.
    client = Client()
    client.force_login(user)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live}])
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def test_a_thumbs_down_with_a_comment_reaches_the_reviewer(browser, review_app, alice, bob, reviewer):
    flagged = converse(
        alice,
        [("Why does the VPN refuse me? See the screenshot.", "Turn it off and on again.")],
        title="VPN refuses me",
    )
    attachment = attach_image(question_of(flagged), "red")
    converse(bob, [("Lunch ideas?", "Soup.")], title="Lunch")

    page = signed_in_page(browser, review_app, alice)
    page.goto(f"{review_app}/c/{flagged.pk}/")
    answer = page.locator("article.message.assistant")
    answer.get_by_role("button", name="Bad answer").click()
    answer.get_by_role("textbox", name="Comment (optional)").fill("It ignored my screenshot")
    answer.get_by_role("button", name="Save comment").click()
    answer.get_by_role("status").filter(has_text="Thanks!").wait_for()
    assert answer.get_by_role("button", name="Bad answer").get_attribute("aria-pressed") == "true"
    feedback = Feedback.objects.get()
    assert (feedback.message, feedback.vote, feedback.comment) == (
        answer_of(flagged),
        "down",
        "It ignored my screenshot",
    )

    page = signed_in_page(browser, review_app, reviewer)
    page.goto(f"{review_app}/admin/chat/conversation/")
    assert page.get_by_role("link", name="Lunch").is_visible()
    page.locator("#changelist-filter details", has_text="By has thumbs-down").get_by_role("link", name="Yes").click()
    page.wait_for_url("**thumbs_down=yes**")
    assert not page.get_by_role("link", name="Lunch").is_visible()
    page.get_by_role("link", name="VPN refuses me").click()

    thumbnail = page.locator(f'.review-images img[src="/images/{attachment.pk}/thumbnail/"]')
    thumbnail.wait_for()
    # The thumbnail shows once it has loaded, not merely once the tag is there.
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert page.locator(".review-feedback").inner_text().endswith("It ignored my screenshot")

    page.get_by_label("Status").select_option("needs_fix")
    page.get_by_label("Notes").fill("Should have read the screenshot.")
    page.get_by_role("button", name="Save verdict").click()
    page.get_by_text("Marked as “Needs fix”.").wait_for()
    assert ConversationReview.objects.get(conversation=flagged).status == "needs_fix"

    page.get_by_text("Promote to FAQ").click()
    page.get_by_label("Answer (Markdown; correct it as needed)").fill("Open the VPN app and choose **Reset**.")
    page.get_by_role("button", name="Create FAQ draft").click()
    page.get_by_text("Draft FAQ entry").wait_for()
    entry = FAQEntry.objects.get()
    assert (entry.source_conversation, entry.answer, entry.status) == (
        flagged,
        "Open the VPN app and choose **Reset**.",
        "draft",
    )


def test_a_live_answer_gets_the_buttons_once_it_is_finished(browser, live_app, alice):
    page = signed_in_page(browser, live_app, alice)
    page.goto(f"{live_app}/")
    composer = page.get_by_role("textbox", name="Message")
    composer.fill("Say hello.")
    composer.press("Enter")
    answer = page.locator('article.message.assistant[data-status="done"]')
    answer.wait_for(timeout=120_000)
    answer.get_by_role("button", name="Good answer").click()
    answer.get_by_role("status").filter(has_text="Thanks!").wait_for()
    assert Feedback.objects.get().vote == "up"
    assert answer.get_by_role("textbox", name="Comment (optional)").is_visible()

    page.reload()
    answer.get_by_role("button", name="Good answer").wait_for()
    assert answer.get_by_role("button", name="Good answer").get_attribute("aria-pressed") == "true"
