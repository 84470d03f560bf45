"""Websockets open only from this site's own pages: scheme, host and port all count."""

import pytest

from tests.support.websocket import open_socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:8080",  # another port: another site
        b"https://127.0.0.1",  # another scheme
        b"http://127.0.0.1.evil.example",
        b"http://evil.example",
        b"null",  # a sandboxed frame or a file
        b"",
    ],
)
async def test_an_origin_other_than_the_pages_own_is_refused(alice, origin):
    assert await open_socket(alice, origin=origin) is None


async def test_the_pages_own_origin_is_accepted_with_its_default_port_written_or_not(alice, socket_for):
    assert await socket_for(alice, origin=b"http://127.0.0.1") is not None
    assert await socket_for(alice, origin=b"http://127.0.0.1:80") is not None


async def test_a_host_outside_allowed_hosts_is_refused_even_from_its_own_page(alice, settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    assert await open_socket(alice, origin=b"http://127.0.0.1") is None


async def test_a_trusted_origin_is_accepted_by_exact_scheme_host_and_port(alice, socket_for, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]
    assert await socket_for(alice, origin=b"https://chat.example.com") is not None
    assert await open_socket(alice, origin=b"http://chat.example.com") is None
    assert await open_socket(alice, origin=b"https://chat.example.com:8443") is None
