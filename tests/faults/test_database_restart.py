"""PostgreSQL restarted mid-answer: answers end, a message sent meanwhile gets a clear error, pages say 503."""

import time

import httpx
import pytest
import websockets.exceptions
from django.conf import settings
from django.db import connections
from django.test import Client

from benchmarks.fake_engine import answer_text
from tests.faults.browser import Browser
from tests.faults.outcomes import RECOVERY_BOUND, report, wait_for_content, wait_for_end

pytestmark = pytest.mark.timeout(settings.DATABASE_RETRY_SECONDS + 240)


def test_answers_end_and_nothing_is_silently_lost_across_a_database_restart(
    stack, postgres_cluster, browser_for, alice
):
    browser = browser_for(alice)
    page = Client()
    page.force_login(alice)
    cookies = {"sessionid": page.cookies["sessionid"].value}
    late = Browser(stack.url, alice, connect=False)  # its session exists before the outage
    ids = [browser.ask(f"seed={seed} tokens=150 rate=10")[1] for seed in range(30, 33)]
    saved = {message_id: wait_for_content(message_id, 20).content for message_id in ids}

    postgres_cluster.stop("fast")
    started = time.monotonic()
    try:
        # A page: a readable 503, not a 500.
        response = httpx.get(f"{stack.url}/", cookies=cookies, timeout=30)
        page_seconds = time.monotonic() - started
        assert response.status_code == 503, response.text[:500]
        assert "database" in response.text and "Retry-After" in response.headers
        # A message sent on the open socket: an error frame naming the request, so the text stays.
        ref, error = browser.ask("Are you there?")
        assert isinstance(error, dict) and error["type"] == "error" and error["ref"] == ref
        assert error.get("code") == "unavailable" and "database" in error["error"]
        # A new socket (the session is looked up at the handshake): closed with "try again later".
        knocked = time.monotonic()
        late.connect(timeout=15)
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            late.receive(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4503
        handshake_seconds = time.monotonic() - knocked
        print(
            f"\n[faults] database down: 503 page after {page_seconds:.1f} s, error frame for a sent message, "
            f"a new socket closed with 4503 after {handshake_seconds:.1f} s"
        )
        time.sleep(max(0, 5 - (time.monotonic() - started)))
    finally:
        postgres_cluster.start()
    back = time.monotonic()
    connections.close_all()  # this test process's connections died too
    print(f"[faults] database down for {back - started:.1f} s")

    messages, seconds = wait_for_end(ids, started, timeout=RECOVERY_BOUND + 60)
    assert report("database restart", seconds, messages, saved=saved) == 0
    for message in messages:
        assert message.status in ("done", "error")
        # The text saved before the outage is never lost.
        assert message.content.startswith(saved[message.pk])
    assert time.monotonic() - back <= RECOVERY_BOUND + 20

    assert httpx.get(f"{stack.url}/", cookies=cookies, timeout=30).status_code == 200
    _, reply_id = browser.ask("seed=34 tokens=10 rate=50")
    (reply,), _ = wait_for_end([reply_id], time.monotonic(), timeout=60)
    assert reply.status == "done"


def test_answers_written_during_a_long_database_outage_end_done_when_it_returns(
    stack, postgres_cluster, browser_for, alice
):
    """Down longer than DATABASE_RETRY_SECONDS: the text exists only in the worker; it waits, keeping its lease."""
    browser = browser_for(alice)
    seeds = range(35, 38)
    ids = {browser.ask(f"seed={seed} tokens=100 rate=10")[1]: seed for seed in seeds}
    for message_id in ids:
        wait_for_content(message_id, 20)

    postgres_cluster.stop("fast")
    started = time.monotonic()
    try:
        # Every answer is written in full while the database is away.
        time.sleep(settings.DATABASE_RETRY_SECONDS + 15)
    finally:
        postgres_cluster.start()
    back = time.monotonic()
    connections.close_all()
    print(
        f"\n[faults] database down for {back - started:.1f} s (DATABASE_RETRY_SECONDS {settings.DATABASE_RETRY_SECONDS:g})"
    )

    messages, _ = wait_for_end(list(ids), back, timeout=RECOVERY_BOUND + 30)
    seconds = time.monotonic() - back
    engine_texts = {message_id: answer_text(seed, 100) for message_id, seed in ids.items()}
    fault = "long database outage, answers complete meanwhile (clear time after it returned)"
    assert report(fault, seconds, messages, engine_texts) == 0
    for message in messages:
        assert (message.status, message.error_code) == ("done", ""), (message.status, message.error)
        assert message.content == answer_text(ids[message.pk], 100)
    assert seconds <= RECOVERY_BOUND
