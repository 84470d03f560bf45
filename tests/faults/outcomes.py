"""Waiting for answers to reach a final state, and saying how long it took."""

import time
from collections import Counter

from django.db import InterfaceError, OperationalError, connections

from chatapp.chat.models import Message

# No conversation may stay blocked by a dead answer for longer than about this.
RECOVERY_BOUND = 30


def reload(ids):
    try:
        return list(Message.objects.filter(pk__in=ids).order_by("pk"))
    except (OperationalError, InterfaceError):
        # This test process's own connection died with the database: take a new one.
        connections.close_all()
        return list(Message.objects.filter(pk__in=ids).order_by("pk"))


def wait_for_content(message_id, chars, timeout=30):
    """Until the saved partial text of an answer has at least `chars` characters."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        (message,) = reload([message_id])
        if message.status == "streaming" and len(message.content) >= chars:
            return message
        time.sleep(0.1)
    raise AssertionError(f"answer {message_id} did not reach {chars} saved characters within {timeout} s")


def wait_for_end(ids, since, timeout):
    """Until none of the answers is queued or streaming; (answers, seconds since `since`) or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        messages = reload(ids)
        if all(not m.is_active for m in messages):
            return messages, time.monotonic() - since
        if time.monotonic() > deadline:
            states = {m.pk: (m.status, m.error_code) for m in messages}
            raise AssertionError(f"still active {timeout} s after the fault: {states}")
        time.sleep(0.2)


def lost_text(message, engine_text=None, saved=""):
    """Whether `message` lost text: less than was saved before the fault, or not the engine's text
    (all of it when done, a beginning of it otherwise)."""
    if not message.content.startswith(saved):
        return True
    if engine_text is None:
        return False
    if message.status == "done":
        return message.content != engine_text
    return not engine_text.startswith(message.content)


def report(fault, seconds, messages, engine_texts=None, saved=None):
    """Print the fault's recovery figures; an answer counts as lost if it is still active or lost text."""
    engine_texts, saved = engine_texts or {}, saved or {}
    counts = Counter(m.status for m in messages)
    codes = Counter(m.error_code for m in messages if m.status == "error")
    lost = sum(m.is_active or lost_text(m, engine_texts.get(m.pk), saved.get(m.pk, "")) for m in messages)
    checked = "checked against the engine's text" if engine_texts else "checked against the text saved before"
    print(
        f"\n[faults] {fault}: clear state after {seconds:.1f} s; of {len(messages)} answers "
        f"{counts.get('done', 0)} completed, {counts.get('error', 0)} errored {dict(codes) or ''}, "
        f"{counts.get('stopped', 0)} stopped, {lost} lost ({checked})"
    )
    return lost
