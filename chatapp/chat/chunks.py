"""An answer as a reader of its numbered chunks keeps it: each chunk applied once, in order.

An answer streams as chunks `from`+1 … `seq` of one attempt (see events.chunk_frame);
its saved state comes as a message with the `seq` its text reaches. A chunk
applies only where it follows what the reader has; one it already has is
skipped; one past a gap, or of a newer attempt, means the reader asks for
what is missing (a `resume` after its `seq`). static/chat/chat.js keeps these
rules in the browser; this module keeps them for the Python readers: the API's
follower, the test browser and the relay benchmark's clients. Plain Python, so
a client that is not the app can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal, TypedDict

ACTIVE = frozenset({"queued", "streaming"})

# The fields of a chunk frame (or group event) the rules read; `from` is a keyword.
Chunk = TypedDict("Chunk", {"attempt": int, "from": int, "seq": int, "delta": str})


class Saved(TypedDict):
    """The fields of a message frame's answer the rules read."""

    attempt: int
    seq: int
    status: str
    content: str


class Resume(TypedDict):
    type: Literal["resume"]
    message_id: int
    after: int
    attempt: int


class Step(Enum):
    """What a chunk did to the answer."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # the reader has it already
    GAP = "gap"  # chunks before it are missing
    NEWER_ATTEMPT = "newer attempt"  # the answer was started again
    OLDER_ATTEMPT = "older attempt"

    @property
    def needs_resume(self) -> bool:
        return self in (Step.GAP, Step.NEWER_ATTEMPT)


@dataclass
class Answer:
    attempt: int = 1
    seq: int = 0
    text: str = ""
    status: str = "queued"

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    def apply_chunk(self, chunk: Chunk) -> Step:
        if chunk["attempt"] != self.attempt:
            return Step.NEWER_ATTEMPT if chunk["attempt"] > self.attempt else Step.OLDER_ATTEMPT
        if chunk["seq"] <= self.seq:
            return Step.DUPLICATE
        if chunk["from"] != self.seq:
            return Step.GAP
        self.seq = chunk["seq"]
        self.text += chunk["delta"]
        if self.status == "queued":
            self.status = "streaming"
        return Step.APPLIED

    def apply_message(self, message: Saved) -> bool:
        """The saved answer replaces what the reader has, unless it is older; whether it did."""
        older = message["attempt"] < self.attempt or (
            message["attempt"] == self.attempt and message["status"] in ACTIVE and message["seq"] < self.seq
        )
        if older:
            return False
        self.attempt, self.seq, self.status = message["attempt"], message["seq"], message["status"]
        self.text = message["content"] or ""
        return True

    def extend(self, seq: int, delta: str) -> None:
        """Chunks up to `seq`, read from the log or the database rather than streamed."""
        self.seq = seq
        self.text += delta

    def resume(self, message_id: int) -> Resume:
        """The request for what follows the chunks this reader has."""
        return {"type": "resume", "message_id": message_id, "after": self.seq, "attempt": self.attempt}
