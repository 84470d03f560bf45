"""Every way of asking for an answer passes the same gate: the rate, answers at once, today's tokens.

Send, retry, regenerate, edit and the API (its transcript) each meet each
limit here with the same refusal, and a refusal saves nothing. The counters
are the real ones in the run's Redis; nothing is queued (no worker needed).
"""

import ast
from pathlib import Path

import pytest

from chatapp.chat import actions, quotas
from chatapp.chat.actions import Turn
from chatapp.chat.gate import AnswerPath, NotInTransaction, admit
from chatapp.chat.models import Conversation, Message, TokenQuota, TokenUse

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def nothing_queued(no_worker):
    """Answers stay queued: no worker takes them."""
    return no_worker


@pytest.fixture
def no_limits(settings):
    settings.CHAT_SEND_RATE = ""
    settings.CHAT_RETRY_RATE = ""
    settings.MAX_ACTIVE_ANSWERS_PER_USER = 0


def finished_answer(user, status=Message.Status.DONE):
    sent = actions.send_message(user, "What is the VPN address?")
    question, reply = sent.question, sent.reply
    reply.finish(status, content="vpn.example.com")
    return question, reply


def prepare(path, user):
    """What `path` needs before it can be asked for; returns the call that asks."""
    if path == AnswerPath.SEND:
        return lambda: actions.send_message(user, "one more question")
    if path == AnswerPath.RETRY:
        _, reply = finished_answer(user, Message.Status.STOPPED)
        return lambda: actions.retry_reply(user, reply.pk)
    if path == AnswerPath.CONTINUE:
        reply = actions.send_message(user, "Tell me everything about the VPN.").reply
        reply.finish(Message.Status.DONE, content="The VPN is", finish_reason=Message.FinishReason.LENGTH)
        return lambda: actions.continue_reply(user, reply.pk)
    if path == AnswerPath.EDIT:
        question, _ = finished_answer(user)
        return lambda: actions.edit_question(user, question.pk, "What is the VPN's address?")
    assert path == AnswerPath.API
    turns = [Turn("user", "hi"), Turn("assistant", "hello"), Turn("user", "the VPN address?")]
    return lambda: actions.send_transcript(user, turns, None)


PATHS = [AnswerPath.SEND, AnswerPath.RETRY, AnswerPath.CONTINUE, AnswerPath.EDIT, AnswerPath.API]


def saved(user):
    return Message.objects.filter(conversation__owner=user).count(), Conversation.objects.filter(owner=user).count()


@pytest.mark.parametrize("path", PATHS)
def test_every_path_is_refused_once_the_users_answer_rate_is_spent(path, alice, bob, settings, no_limits):
    ask = prepare(path, alice)
    settings.CHAT_SEND_RATE = "1/minute"
    actions.send_message(alice, "this one spends the minute's answer")
    before = saved(alice)
    with pytest.raises(quotas.LimitReached) as refusal:
        ask()
    assert refusal.value.code == "rate_limited" and "Too many answers asked for" in str(refusal.value)
    assert refusal.value.retry_after >= 1
    assert saved(alice) == before  # nothing of the refused request was kept
    actions.send_message(bob, "someone else still can")


@pytest.mark.parametrize("path", PATHS)
def test_every_path_is_refused_while_the_user_has_as_many_answers_running_as_allowed(
    path, alice, bob, settings, no_limits
):
    ask = prepare(path, alice)
    settings.MAX_ACTIVE_ANSWERS_PER_USER = 1
    actions.send_message(alice, "this answer is still being written")
    before = saved(alice)
    with pytest.raises(quotas.LimitReached) as refusal:
        ask()
    assert refusal.value.code == "too_many_answers" and "1 answers being written" in str(refusal.value)
    assert saved(alice) == before
    actions.send_message(bob, "someone else still can")


@pytest.mark.parametrize("path", PATHS)
def test_every_path_is_refused_once_todays_tokens_are_used_up(path, alice, bob, no_limits):
    ask = prepare(path, alice)
    TokenQuota.objects.create(user=alice, daily_tokens=50)
    TokenUse.objects.create(user=alice, answer_id=10**9, prompt_tokens=40, completion_tokens=20, settled=True)
    before = saved(alice)
    with pytest.raises(quotas.LimitReached) as refusal:
        ask()
    assert refusal.value.code == "quota_exceeded" and "60 of your 50" in str(refusal.value)
    assert saved(alice) == before
    actions.send_message(bob, "someone else still can")


def test_eight_retries_of_finished_answers_at_once_give_three_answers_and_then_refusals(alice, settings):
    """As found: 8 regenerates (now Retry of a finished answer) gave 8 answers at once with a cap of 3."""
    answers = [finished_answer(alice)[1] for _ in range(8)]
    started, refused = 0, []
    for reply in answers:
        try:
            actions.retry_reply(alice, reply.pk)
            started += 1
        except quotas.LimitReached as refusal:
            refused.append(refusal.code)
    assert started == 3 and refused == ["too_many_answers"] * 5


def test_retries_stop_when_sends_are_refused(alice, settings, no_limits):
    """As found: 28 regenerates were accepted within 42 s after sends were refused."""
    replies = [finished_answer(alice)[1] for _ in range(3)]
    settings.CHAT_SEND_RATE = "2/minute"
    actions.send_message(alice, "one")
    actions.send_message(alice, "two")
    with pytest.raises(quotas.LimitReached):
        actions.send_message(alice, "three")
    for reply in replies:
        with pytest.raises(quotas.LimitReached, match="Too many answers asked for"):
            actions.retry_reply(alice, reply.pk)


def test_a_retry_also_counts_against_its_own_rate(alice, settings, no_limits):
    settings.CHAT_RETRY_RATE = "1/minute"
    _, reply = finished_answer(alice, Message.Status.ERROR)
    again = actions.retry_reply(alice, reply.pk)
    again.finish(Message.Status.ERROR, error="failed")
    with pytest.raises(quotas.LimitReached, match="Too many retries"):
        actions.retry_reply(alice, again.pk)


def test_the_gate_refuses_to_admit_outside_the_transaction_that_saves_the_answer(alice):
    with pytest.raises(NotInTransaction):
        admit(alice, AnswerPath.SEND)


# Where answers may be queued: the gate's two doors, and the lifecycle's own
# re-deliveries of an attempt already admitted (a shutdown's hand-back, the reaper).
QUEUEING_CALLS = {"queue", "continue_answer", "continue_after_length"}
ALLOWED = {
    ("chatapp/chat/actions.py", "start_answer", "queue"),
    ("chatapp/chat/actions.py", "restart_answer", "continue_answer"),
    ("chatapp/chat/lifecycle.py", "continue_answer", "continue_after_length"),
    ("chatapp/chat/lifecycle.py", "continue_answer", "queue"),
    ("chatapp/chat/lifecycle.py", "hand_back", "queue"),
    ("chatapp/chat/lifecycle.py", "reap", "queue"),
}


def queueing_calls():
    root = Path(__file__).resolve().parents[2]
    for source in sorted((root / "chatapp").rglob("*.py")):
        tree = ast.parse(source.read_text())
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                    if name in QUEUEING_CALLS:
                        yield str(source.relative_to(root)), function.name, name


def test_answers_are_queued_only_behind_the_gate():
    """A new way of starting an answer must go through actions.start_answer or actions.restart_answer."""
    found = set(queueing_calls())
    assert ("chatapp/chat/actions.py", "start_answer", "queue") in found  # the scan sees them
    assert found - ALLOWED == set(), "queued outside the gate: start answers with actions.start_answer"
