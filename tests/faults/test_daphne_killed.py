"""daphne killed mid-answer: supervisor restarts it, the client reconnects and resumes without loss."""

import time

import pytest
import websockets.exceptions
from django.conf import settings

from chatapp.chat.models import Message
from tests.faults.outcomes import wait_for_end

pytestmark = pytest.mark.timeout(180)


def test_a_client_reconnects_to_a_restarted_daphne_and_gets_the_whole_answer(stack, browser_for, alice):
    browser = browser_for(alice)
    _, reply_id = browser.ask("seed=40 tokens=200 rate=10")
    browser.receive_until(lambda f: f.get("type") == "chunk" and f["seq"] >= 5, timeout=30)

    killed = stack.kill("web")
    started = time.monotonic()
    with pytest.raises((websockets.exceptions.ConnectionClosed, TimeoutError)):
        while True:
            browser.receive(timeout=10)
    seconds = browser.reconnect(timeout=60)
    print(
        f"\n[faults] daphne kill -9: the client reconnected after {time.monotonic() - started:.1f} s "
        f"(restarted by supervisor, {seconds:.1f} s of retries)"
    )
    assert stack.pid("web") != killed

    conversation_id = Message.objects.get(pk=reply_id).conversation_id
    browser.request(type="open", conversation_id=conversation_id)
    browser.resume(reply_id)
    final = browser.follow_to_the_end(reply_id, timeout=60)
    (reply,), _ = wait_for_end([reply_id], started, timeout=10)
    assert final["status"] == reply.status == "done"
    assert browser.answers[reply_id].text == reply.content  # nothing lost, nothing doubled


def test_a_dead_web_process_leaves_no_group_membership_behind(stack, browser_for, alice, bob):
    """With the pub/sub channel layer a membership is the web process's subscription: it ends with the process."""
    import redis

    if not settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("pubsub.RedisPubSubChannelLayer"):
        pytest.fail("this test counts pub/sub subscriptions: adapt it to the configured channel layer")
    survivor = browser_for(alice)
    browser_for(bob)
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    prefix = stack.env["CHANNEL_PREFIX"]
    alice_group, bob_group = (f"{prefix}__group__user-{user.pk}" for user in (alice, bob))

    def subscribers(group):
        return dict(client.pubsub_numsub(group))[group.encode()]

    assert subscribers(alice_group) == 1 and subscribers(bob_group) == 1

    killed = stack.kill("web")
    started = time.monotonic()
    stack.wait_restarted("web", killed)
    survivor.reconnect(timeout=60)
    gone = time.monotonic() - started
    print(f"\n[faults] daphne kill -9: no membership of the dead process left {gone:.1f} s later")
    assert subscribers(bob_group) == 0  # bob's socket died with the process, nothing of it stays
    assert subscribers(alice_group) == 1  # alice's new socket, on the new process
