"""An engine that says nothing: the user is told it is silent within seconds, and the answer ends at the first-token timeout."""

import time

import pytest

from tests.faults.outcomes import report, wait_for_end

pytestmark = pytest.mark.timeout(120)

READ_TIMEOUT = 10  # INFERENCE_FIRST_TOKEN_TIMEOUT in the suite's environment


def test_a_silent_engine_is_announced_then_ends_in_a_timeout(stack, browser_for, alice):
    browser = browser_for(alice)
    started = time.monotonic()
    _, reply_id = browser.ask("seed=60 tokens=20 rate=10 delay=60")

    waiting = browser.receive_until(
        lambda f: f.get("type") == "waiting" and f.get("message_id") == reply_id, timeout=READ_TIMEOUT
    )
    told = time.monotonic() - started
    print(f"\n[faults] engine stall: the page was told '{waiting.get('reason')}' after {told:.1f} s")
    assert waiting["reason"] == "engine_silent"

    (reply,), seconds = wait_for_end([reply_id], started, timeout=READ_TIMEOUT + 30)
    report("engine stall", seconds, [reply])
    assert reply.status == "error" and reply.error_code == "timeout"
    assert seconds <= READ_TIMEOUT + 10
