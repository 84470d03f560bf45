"""Redis at maxmemory: what protects the text goes on, and a message sent meanwhile is answered, never a 1011.

Under `noeviction` Redis refuses every write that needs memory (the resume
log's appends, new tasks, the broker's record of a delivered task); under
`allkeys-lru` it evicts keys to make room, leases among them. Either way the
answers being written end complete: the reaper ends an answer only when both
its lease and its database sign of life are gone, and the worker keeps running.
"""

import threading
import time

import pytest
import redis

from benchmarks.fake_engine import answer_text
from chatapp.chat.models import Message
from tests.faults.outcomes import RECOVERY_BOUND, report, wait_for_content, wait_for_end

pytestmark = pytest.mark.timeout(300)

FILLER = b"x" * 100_000
PRESSURE_SECONDS = 20  # longer than a lease (GENERATION_LEASE_SECONDS, 15 s)


class MemoryPressure:
    """Redis filled to its maxmemory, and kept there by a writer that goes on filling."""

    def __init__(self, url, policy):
        self.client = redis.Redis.from_url(url)
        self.policy = policy
        self.stop = threading.Event()
        self.refused = 0
        self.written = 0
        self.thread = threading.Thread(target=self._fill, daemon=True)

    def __enter__(self):
        used = self.client.info("memory")["used_memory"]
        self.client.config_set("maxmemory-policy", self.policy)
        self.client.config_set("maxmemory", used + 2_000_000)
        self._write(until_refused_or=60)
        self.thread.start()
        return self

    def _write(self, until_refused_or):
        for _ in range(until_refused_or):
            try:
                self.client.set(f"filler:{self.written}", FILLER)
                self.written += 1
            except redis.exceptions.ResponseError:
                self.refused += 1
                return

    def _fill(self):
        while not self.stop.wait(0.2):
            self._write(until_refused_or=1)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.client.config_set("maxmemory", 0)
        keys = list(self.client.scan_iter("filler:*", count=1000))
        if keys:
            self.client.delete(*keys)
        self.client.config_set("maxmemory-policy", "noeviction")
        self.client.close()


@pytest.mark.parametrize("policy", ["noeviction", "allkeys-lru"])
def test_answers_written_while_redis_is_full_end_complete(stack, redis_server, browser_for, alice, policy):
    seeds = range(100, 103)
    pages = {seed: browser_for(alice) for seed in seeds}
    ids = {pages[seed].ask(f"seed={seed} tokens=300 rate=10")[1]: seed for seed in seeds}
    for message_id in ids:
        wait_for_content(message_id, 20)
    worker, mark = stack.pid("worker"), stack.log_mark()

    with MemoryPressure(redis_server.url, policy) as pressure:
        started = time.monotonic()
        # A message sent meanwhile is saved and acknowledged: the page clears its composer.
        late = browser_for(alice)
        _, late_id = late.ask("seed=104 tokens=20 rate=20")
        assert isinstance(late_id, int), late_id
        late.request(type="ping")
        late.receive(timeout=5)  # the socket is still open
        time.sleep(PRESSURE_SECONDS)
        under_pressure = {m.pk: (m.status, m.seq) for m in Message.objects.filter(pk__in=ids)}
        print(
            f"\n[faults] Redis full ({policy}): {pressure.written} filler writes, {pressure.refused} refused; "
            f"after {PRESSURE_SECONDS} s the answers were {under_pressure}"
        )
    released = time.monotonic()

    messages, _ = wait_for_end([*ids, late_id], started, timeout=RECOVERY_BOUND + 60)
    engine_texts = {message_id: answer_text(seed, 300) for message_id, seed in ids.items()}
    engine_texts[late_id] = answer_text(104, 20)
    fault = f"Redis at maxmemory, {policy} (clear time from the start of the pressure)"
    assert report(fault, time.monotonic() - started, messages, engine_texts) == 0
    print(f"[faults] Redis full ({policy}): clear state {time.monotonic() - released:.1f} s after the pressure ended")
    restarted = stack.pid("worker") != worker
    print(f"[faults] Redis full ({policy}): the worker {'was restarted' if restarted else 'kept running'}")
    assert not restarted and "Unrecoverable error" not in stack.log_text(mark)
    for message in messages:
        if message.pk in ids:
            assert (message.status, message.error_code) == ("done", ""), (message.status, message.error)
            assert message.content == answer_text(ids[message.pk], 300)
            # Progress kept being saved while Redis refused its writes.
            assert under_pressure[message.pk][1] > 0
        else:
            assert message.status == "done", (message.status, message.error)
