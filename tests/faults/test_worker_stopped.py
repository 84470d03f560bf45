"""SIGTERM (a deploy) with answers streaming: short ones finish, the others are handed back, none cut silently."""

import signal
import time

import pytest

from benchmarks.fake_engine import answer_text
from tests.faults.outcomes import RECOVERY_BOUND, report, wait_for_content, wait_for_end

pytestmark = pytest.mark.timeout(180)

GRACE = 5  # WORKER_SHUTDOWN_GRACE in the suite's environment


def test_a_stopping_worker_finishes_short_answers_and_hands_back_the_others(stack, browser_for, alice):
    browser = browser_for(alice)
    _, short_id = browser.ask("seed=50 tokens=20 rate=10")  # 2 s
    _, long_id = browser.ask("seed=51 tokens=400 rate=10")  # 40 s
    partial = wait_for_content(long_id, 10).content

    stopped = stack.kill("worker", signal.SIGTERM)
    started = time.monotonic()
    stack.wait_restarted("worker", stopped, timeout=GRACE + 20)
    exit_seconds = time.monotonic() - started
    print(f"\n[faults] worker SIGTERM: exited and was restarted after {exit_seconds:.1f} s (grace {GRACE} s)")
    assert exit_seconds <= GRACE + 10

    messages, seconds = wait_for_end([short_id, long_id], started, timeout=RECOVERY_BOUND + 60)
    engine_texts = {short_id: answer_text(50, 20), long_id: answer_text(51, 400)}
    assert report("worker SIGTERM", seconds, messages, engine_texts, {long_id: partial}) == 0
    short, long = messages
    assert short.status == "done"
    # Handed back: continued by the next worker (done) or ended with Retry, text kept.
    assert long.status in ("done", "error")
    if long.status == "error":
        assert long.content.startswith(partial)
    else:
        assert long.content
