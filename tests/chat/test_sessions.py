"""A websocket ends with its session: logout, deactivation, password change, a flushed session.

Real daphne, real Redis, a real websocket client; the figures printed are the
seconds from the HTTP logout (or the save) to the socket's close.
"""

import asyncio
import json

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.contrib.sessions.models import Session
from django.test import Client

from tests.support.accounts import PASSWORD
from tests.support.processes import serve_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app_server(transactional_db):
    with serve_app() as url:
        yield url


@sync_to_async
def signed_in_cookies(user):
    client = Client()
    client.force_login(user)
    return {"sessionid": client.cookies["sessionid"].value}


async def open_socket(url, cookies):
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return await websockets.connect(
        url.replace("http", "ws") + "/ws/chat/", origin=url, additional_headers={"Cookie": header}
    )


async def ping(socket):
    await socket.send(json.dumps({"type": "ping"}))
    return json.loads(await asyncio.wait_for(socket.recv(), 10))


async def closed_as_signed_out(socket):
    """Read until the server closes `socket`; it must say why: 4401, signed out."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(socket.recv(), 10)
    assert closed.value.rcvd.code == 4401


async def test_logout_closes_that_sessions_sockets_and_no_other(app_server, alice):
    cookies = await signed_in_cookies(alice)
    other_session = await signed_in_cookies(alice)
    socket = await open_socket(app_server, cookies)
    elsewhere = await open_socket(app_server, other_session)
    assert await ping(socket) == {"type": "pong"}
    async with httpx.AsyncClient(base_url=app_server, cookies=cookies) as http:
        await http.get("/")
        response = await http.post("/accounts/logout/", data={"csrfmiddlewaretoken": http.cookies["csrftoken"]})
        assert response.status_code == 302
    await closed_as_signed_out(socket)
    # The same person's other browser is still signed in.
    assert await ping(elsewhere) == {"type": "pong"}
    await elsewhere.close()


@pytest.mark.parametrize("change", ["deactivated", "given a new password"])
async def test_an_account_change_closes_every_socket_of_the_user(app_server, alice, bob, change):
    socket = await open_socket(app_server, await signed_in_cookies(alice))
    bobs = await open_socket(app_server, await signed_in_cookies(bob))
    assert await ping(socket) == {"type": "pong"}

    @sync_to_async
    def apply():
        if change == "deactivated":
            alice.is_active = False
        else:
            alice.set_password(PASSWORD + " changed")
        alice.save()

    await apply()
    await closed_as_signed_out(socket)
    assert await ping(bobs) == {"type": "pong"}
    await bobs.close()


async def test_a_socket_whose_session_was_removed_is_closed_on_its_next_request(app_server, alice):
    socket = await open_socket(app_server, await signed_in_cookies(alice))
    assert await ping(socket) == {"type": "pong"}
    # Deleting sessions directly sends no signal: the per-request check catches it.
    await sync_to_async(lambda: Session.objects.all().delete())()
    await socket.send(json.dumps({"type": "send", "conversation_id": None, "text": "still there?"}))
    await closed_as_signed_out(socket)
    assert not await sync_to_async(alice.conversations.exists)()


async def test_a_signed_out_browser_cannot_open_a_socket_again(app_server, alice):
    cookies = await signed_in_cookies(alice)
    async with httpx.AsyncClient(base_url=app_server, cookies=cookies) as http:
        await http.get("/")
        await http.post("/accounts/logout/", data={"csrfmiddlewaretoken": http.cookies["csrftoken"]})
    with pytest.raises(websockets.InvalidStatus, match="403"):
        await open_socket(app_server, cookies)
