"""The one gate every answer passes before it is queued, whichever way it was asked for.

Send, retry, edit, continue and the API all start an answer
through `chatapp.chat.actions.start_answer` (a new answer) or
`chatapp.chat.actions.restart_answer` (a new attempt at an existing one), and
both call `admit` inside the transaction that saves the answer. `admit` checks,
in this order, with the same refusals for every path:

1. the user's answer rate (CHAT_SEND_RATE counts every answer started, by any
   path; a retry also counts against CHAT_RETRY_RATE);
2. today's tokens (the user's quota and each of their groups', from the ledger);
3. answers queued or being written at once (MAX_ACTIVE_ANSWERS_PER_USER).

A refusal is a `quotas.LimitReached` and the caller's transaction saves
nothing. `lifecycle.continue_answer` takes the `Admission` that `admit` returns, so
that a new attempt cannot be queued without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import transaction

from chatapp.chat import quotas

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class AnswerPath(StrEnum):
    """How an answer was asked for."""

    SEND = "send"
    RETRY = "retry"
    EDIT = "edit"
    CONTINUE = "continue"
    API = "api"


# Rates counted for each path, beyond the one every answer counts against.
_EXTRA_RATES = {AnswerPath.RETRY: "retry"}


@dataclass(frozen=True)
class Admission:
    """Proof that `user_id`'s answer asked for by `path` passed the gate."""

    user_id: int
    path: AnswerPath


class NotInTransaction(RuntimeError):
    """`admit` was called outside the transaction that saves the answer (a programming error)."""


def admit(user: User, path: AnswerPath) -> Admission:
    """Check the user may start one more answer now; raises quotas.LimitReached with the reason.

    Must run inside the transaction that saves the answer: the user's row is
    locked there so that two requests at the same moment count each other.
    """
    if not transaction.get_connection().in_atomic_block:
        raise NotInTransaction("admit() runs inside the transaction that saves the answer")
    extra = _EXTRA_RATES.get(path)
    if extra:
        quotas.hit(extra, user.pk)
    quotas.hit("answer", user.pk)
    quotas.check_token_quota(user)
    quotas.check_active_answers(user)
    return Admission(user.pk, path)
