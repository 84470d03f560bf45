"""What chat.js does, over a real websocket to daphne: send, apply numbered chunks, reconnect and resume."""

import json
import time
import uuid

import websockets.exceptions
import websockets.sync.client
from django.test import Client

from chatapp.chat.chunks import Answer


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Browser:
    def __init__(self, app_url, user, connect=True):
        self.app_url = app_url
        self.ws_url = app_url.replace("http://", "ws://") + "/ws/chat/"
        self.cookie = f"sessionid={session_cookie(user)}"
        self.socket = None
        self.answers = {}  # message id → Answer
        self.frames = []
        if connect:
            self.connect()

    def connect(self, timeout=5):
        self.socket = websockets.sync.client.connect(
            self.ws_url,
            additional_headers={"Cookie": self.cookie, "Origin": self.app_url},
            open_timeout=timeout,
            close_timeout=1,
            legacy=True,  # a long-lived socket this object closes, not a with-block
        )

    def reconnect(self, timeout=30):
        """Reconnect as chat.js does (500 ms, doubling to 5 s); returns the seconds it took."""
        self.close()
        started = time.monotonic()
        delay = 0.5
        while True:
            try:
                self.connect()
                return time.monotonic() - started
            except (OSError, websockets.exceptions.WebSocketException):
                if time.monotonic() - started > timeout:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5)

    def close(self):
        if self.socket is not None:
            self.socket.close()

    def request(self, **payload):
        self.socket.send(json.dumps(payload))

    def ask(self, text, conversation_id=None):
        """Send a message; returns (ref, the answer's id) once the server confirmed both."""
        ref = uuid.uuid4().hex[:8]
        known = set(self.answers)
        self.request(type="send", ref=ref, text=text, conversation_id=conversation_id)
        frame = self.receive_until(
            lambda f: (
                f.get("type") == "error"
                and f.get("ref") == ref
                or f.get("type") == "message"
                and f["message"]["role"] == "assistant"
                and f["message"]["id"] not in known
            ),
            timeout=15,
        )
        if frame.get("type") == "error":
            return ref, frame
        return ref, frame["message"]["id"]

    def receive(self, timeout):
        frame = json.loads(self.socket.recv(timeout=timeout))
        self.frames.append(frame)
        self.apply(frame)
        return frame

    def receive_until(self, done, timeout):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no such frame within {timeout} s; last frames {self.frames[-5:]}")
            frame = self.receive(remaining)
            if done(frame):
                return frame

    def apply(self, frame):
        """chat.js's rules: a chunk applies only if it follows the last one; otherwise ask for the rest."""
        if frame.get("type") == "message" and frame["message"]["role"] == "assistant":
            message = frame["message"]
            self.answers.setdefault(message["id"], Answer(attempt=message["attempt"])).apply_message(message)
        elif frame.get("type") == "chunk":
            answer = self.answers.setdefault(frame["message_id"], Answer(attempt=frame["attempt"]))
            if answer.apply_chunk(frame).needs_resume:
                self.resume(frame["message_id"])

    def resume(self, message_id):
        self.request(**self.answers.get(message_id, Answer()).resume(message_id))

    def follow_to_the_end(self, message_id, timeout):
        return self.receive_until(
            lambda f: (
                f.get("type") == "message"
                and f["message"]["id"] == message_id
                and f["message"]["status"] in ("done", "stopped", "error")
            ),
            timeout,
        )["message"]
