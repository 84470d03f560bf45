"""What a person can do next when an answer fails, by `Message.ErrorCode`.

The error itself says what happened; this is the one place that says Retry.
"""

from chatapp.chat.models import Message

Code = Message.ErrorCode

NEXT_STEPS: dict[str, str] = {
    Code.UNAVAILABLE: "The model may be starting or busy: wait a moment, then press Retry.",
    Code.TIMEOUT: "Press Retry; if the model keeps not responding, tell an administrator.",
    Code.ENGINE_ERROR: "Press Retry. If it fails again, tell an administrator.",
    Code.CUT_OFF: "Press Retry, or ask for a shorter answer.",
    Code.WORKER_LOST: "Press Retry to ask again.",
    Code.NOT_STARTED: "Press Retry; if nothing starts, tell an administrator.",
    Code.DATABASE: "The chat is back now: press Retry to ask again.",
    Code.INTERNAL: "Press Retry. If it fails again, tell an administrator.",
}
NEXT_STEPS = {str(code): text for code, text in NEXT_STEPS.items()}


def next_step(message: Message) -> str:
    return NEXT_STEPS.get(message.error_code, "") if message.status == Message.Status.ERROR else ""
