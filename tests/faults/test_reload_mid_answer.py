"""A page rendered from the database mid-answer never receives a character twice:
the text saved with `seq = n` is exactly chunks 1..n of the answer's log."""

import time

import pytest
import redis

from benchmarks.fake_engine import answer_text
from chatapp.chat.models import Message
from tests.faults.outcomes import report, wait_for_end

pytestmark = pytest.mark.timeout(180)


def chunks(client, prefix, message):
    """The answer's chunk log as {seq: delta}, read as a reconnecting page would."""
    key = f"{prefix}:log:{message.pk}:{message.attempt}"
    return {int(fields[b"seq"]): fields[b"delta"].decode() for _id, fields in client.xrange(key)}


def test_every_saved_partial_answer_is_exactly_its_chunks(stack, redis_server, browser_for, alice):
    client = redis.Redis.from_url(redis_server.url)
    browser = browser_for(alice)
    started = time.monotonic()
    ids = [browser.ask(f"seed={seed} tokens=500 rate=100")[1] for seed in range(70, 76)]

    samples, mismatches = 0, []
    while time.monotonic() - started < 60:
        streaming = list(Message.objects.filter(pk__in=ids, status="streaming", seq__gt=0))
        if not streaming and not Message.objects.filter(pk__in=ids, status__in=("queued", "streaming")).exists():
            break
        for message in streaming:
            # The log is read after the row, so it holds at least chunks 1..seq.
            log = chunks(client, stack.env["CHANNEL_PREFIX"], message)
            samples += 1
            expected = "".join(log.get(seq, "\0") for seq in range(1, message.seq + 1))
            if message.content != expected:
                mismatches.append((message.pk, message.seq, len(message.content), len(expected)))
        time.sleep(0.05)

    messages, seconds = wait_for_end(ids, started, timeout=60)
    engine_texts = {message.pk: answer_text(seed, 500) for message, seed in zip(messages, range(70, 76), strict=True)}
    assert report("reload mid-answer (saves sampled while streaming)", seconds, messages, engine_texts) == 0
    print(f"[faults] {samples} saved partial answers sampled, {len(mismatches)} not exactly their chunks")
    assert samples >= 50
    assert mismatches == []
    assert all(message.status == "done" for message in messages)
    client.close()
