"""Links in rendered answers: their real host shown, only this site and allowed hosts clickable."""

import pytest

from chatapp.markdown import render_markdown


def test_a_link_to_another_host_is_text_with_its_real_host():
    html = render_markdown("[Verify your session](https://evil.example/?c=SECRET)")
    assert "<a" not in html and "SECRET" not in html
    assert "Verify your session" in html and "(evil.example)" in html


@pytest.mark.parametrize(
    "href",
    [
        "//evil.example/a",
        "javascript:alert(1)",
        "mailto:boss@example.com",
        "data:text/html,hi",
        "https://evil.example@docs.example.com.evil.example/",
    ],
)
def test_tricky_links_are_never_clickable(href):
    assert "<a" not in render_markdown(f"[click]({href})")


def test_links_to_allowed_hosts_and_to_this_site_stay_clickable(settings):
    settings.ANSWER_LINK_HOSTS = ["docs.example.com", "*.wiki.example.org"]
    html = render_markdown("[a](https://docs.example.com/x) [b](https://team.wiki.example.org/) [c](/faq/vpn-access/)")
    assert html.count('rel="noopener noreferrer nofollow"') == 3
    assert "(docs.example.com)" in html and "(team.wiki.example.org)" in html
    assert 'href="/faq/vpn-access/"' in html


def test_raw_html_links_are_filtered_too(settings):
    # markdown-it escapes raw HTML; nh3's attribute filter is the second guard.
    assert "<a" not in render_markdown('<a href="https://evil.example">x</a>')
