"""kill -9 of the worker mid-answer: supervisor restarts it, the orphan ends in error with its text kept."""

import time

import pytest

from benchmarks.fake_engine import answer_text
from tests.faults.outcomes import RECOVERY_BOUND, report, wait_for_content, wait_for_end

pytestmark = pytest.mark.timeout(180)


def test_a_killed_worker_is_restarted_and_its_answer_ends_in_error_with_the_text_kept(stack, browser_for, alice):
    browser = browser_for(alice)
    _, reply_id = browser.ask("seed=1 tokens=300 rate=10")
    partial = wait_for_content(reply_id, 40).content

    killed = stack.kill("worker")
    started = time.monotonic()
    stack.wait_restarted("worker", killed)
    print(f"\n[faults] worker kill -9: supervisor restarted it after {time.monotonic() - started:.1f} s")

    (reply,), seconds = wait_for_end([reply_id], started, timeout=RECOVERY_BOUND + 30)
    assert report("worker kill -9", seconds, [reply], {reply_id: answer_text(1, 300)}, {reply_id: partial}) == 0
    assert reply.status == "error" and reply.error_code == "worker_lost"
    assert reply.content.startswith(partial)
    assert seconds <= RECOVERY_BOUND

    # The conversation takes the next message, and the new worker answers it.
    _, next_id = browser.ask("seed=2 tokens=20 rate=50", conversation_id=reply.conversation_id)
    (answer,), _ = wait_for_end([next_id], time.monotonic(), timeout=60)
    assert answer.status == "done"
