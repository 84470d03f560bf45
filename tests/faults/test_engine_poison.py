"""A malformed engine event ends that answer alone: five answers streaming beside it complete, exactly."""

import time

import pytest

from benchmarks.fake_engine import answer_text
from tests.faults.outcomes import RECOVERY_BOUND, report, wait_for_end

pytestmark = pytest.mark.timeout(180)

HEALTHY = range(40, 45)
POISONED = 45
POISON_AT = 30  # tokens before the event whose delta.content is a number


def test_one_poisoned_answer_ends_alone_and_five_beside_it_complete(stack, browser_for, alice):
    # One page per conversation, as six tabs would be.
    mark = stack.log_mark()
    pages = {seed: browser_for(alice) for seed in [*HEALTHY, POISONED]}
    started = time.monotonic()
    asked = {seed: pages[seed].ask(f"seed={seed} tokens=120 rate=10")[1] for seed in HEALTHY}
    asked[POISONED] = pages[POISONED].ask(f"seed={POISONED} tokens=120 rate=10 poison={POISON_AT}")[1]
    healthy = {asked[seed]: seed for seed in HEALTHY}
    poisoned = asked[POISONED]

    messages, seconds = wait_for_end([*healthy, poisoned], started, timeout=RECOVERY_BOUND + 60)
    engine_texts = {message_id: answer_text(seed, 120) for message_id, seed in healthy.items()}
    engine_texts[poisoned] = answer_text(POISONED, 120)
    assert report("malformed engine event beside five answers", seconds, messages, engine_texts) == 0
    ended = {message.pk: message for message in messages}

    bad = ended[poisoned]
    assert (bad.status, bad.error_code) == ("error", "engine_error")
    assert bad.error
    # Its text up to the bad event is kept.
    assert bad.content == answer_text(POISONED, POISON_AT)
    for message_id, seed in healthy.items():
        answer = ended[message_id]
        assert answer.status == "done", (answer.status, answer.error_code, answer.error)
        assert answer.content == answer_text(seed, 120)
    # Each page, from the chunks alone, had its text exactly, once.
    for seed, message_id in asked.items():
        assert streamed_text(pages[seed], message_id) == ended[message_id].content
    assert "Unrecoverable error" not in stack.log_text(mark)


def streamed_text(page, message_id):
    """What the page had assembled from chunks when the answer's final state arrived."""
    while True:
        before = page.answers[message_id].text if message_id in page.answers else ""
        frame = page.receive(timeout=10)
        if frame.get("type") == "message" and frame["message"]["id"] == message_id:
            if frame["message"]["status"] in ("done", "error", "stopped"):
                return before
