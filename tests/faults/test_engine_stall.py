"""An engine that goes silent: the user is told within seconds, and the answer ends at the shipped timeouts.

Silence before the first token is bounded by the first-token wait, silence
between two chunks by the read timeout; the suite runs both at their defaults.
"""

import time

import pytest
from django.conf import settings

from benchmarks.fake_engine import answer_text
from tests.faults.outcomes import report, wait_for_content, wait_for_end


def first_token_wait():
    return getattr(settings, "INFERENCE_FIRST_TOKEN_TIMEOUT", settings.INFERENCE_READ_TIMEOUT)


@pytest.mark.timeout(first_token_wait() + 120)
def test_a_silent_engine_is_announced_then_ends_in_a_timeout(stack, browser_for, alice):
    browser = browser_for(alice)
    started = time.monotonic()
    _, reply_id = browser.ask(f"seed=60 tokens=20 rate=10 delay={first_token_wait() + 60}")

    waiting = browser.receive_until(
        lambda f: f.get("type") == "waiting" and f.get("message_id") == reply_id, timeout=first_token_wait()
    )
    told = time.monotonic() - started
    print(f"\n[faults] engine stall: the page was told '{waiting.get('reason')}' after {told:.1f} s")
    assert waiting["reason"] == "engine_silent"

    (reply,), seconds = wait_for_end([reply_id], started, timeout=first_token_wait() + 30)
    report(
        f"engine silent before its first token (first-token wait {first_token_wait():g} s)",
        seconds,
        [reply],
        {reply_id: answer_text(60, 20)},
    )
    assert reply.status == "error" and reply.error_code == "timeout"
    assert seconds <= first_token_wait() + 10


@pytest.mark.timeout(settings.INFERENCE_READ_TIMEOUT + 120)
def test_an_engine_silent_mid_answer_ends_in_a_timeout_keeping_its_text(stack, browser_for, alice):
    browser = browser_for(alice)
    _, reply_id = browser.ask("seed=61 tokens=100 rate=20 stall=30")
    wait_for_content(reply_id, len(answer_text(61, 30)))
    silent_since = time.monotonic()

    waiting = browser.receive_until(
        lambda f: f.get("type") == "waiting" and f.get("message_id") == reply_id,
        timeout=settings.INFERENCE_READ_TIMEOUT,
    )
    print(f"\n[faults] engine silent mid-answer: the page was told after {time.monotonic() - silent_since:.1f} s")
    assert waiting["reason"] == "engine_silent"

    (reply,), seconds = wait_for_end([reply_id], silent_since, timeout=settings.INFERENCE_READ_TIMEOUT + 30)
    fault = f"engine silent mid-answer (read timeout {settings.INFERENCE_READ_TIMEOUT:g} s)"
    report(fault, seconds, [reply], {reply_id: answer_text(61, 100)})
    assert (reply.status, reply.error_code) == ("error", "timeout")
    assert reply.content == answer_text(61, 30)
    assert seconds <= settings.INFERENCE_READ_TIMEOUT + 10
