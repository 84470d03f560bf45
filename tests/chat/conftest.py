from asgiref.sync import sync_to_async

from chatapp.chat.models import Message

# The websocket client helpers are shared by every domain's tests (tests/conftest.py).
from tests.conftest import ORIGIN, open_socket, receive_until, session_cookie  # noqa: F401


def finished(message_id=None):
    def check(frame):
        message = frame.get("message") or {}
        return (
            frame.get("type") == "message"
            and message.get("role") == "assistant"
            and (message_id is None or message.get("id") == message_id)
            and message.get("status") in ("done", "stopped", "error")
        )

    return check


def reply_in(frames):
    for frame in frames:
        message = frame.get("message") or {}
        if frame.get("type") == "message" and message.get("role") == "assistant":
            return message["id"]
    return None


@sync_to_async
def reload(message_id):
    return Message.objects.get(pk=message_id)
