"""A model service that records what it is asked and answers one fixed sentence.

A test double, used where the test is about the exact request body that
reaches the model service (the real one turns image parts into text before
anything could be observed).
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = "A small red rectangle."


class RecordingModelService:
    def __init__(self):
        self.requests = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.requests.append({"path": self.path, "body": json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for choice in (
                    {"delta": {"role": "assistant", "content": ""}},
                    {"delta": {"content": ANSWER}},
                    {"delta": {}, "finish_reason": "stop"},
                ):
                    chunk = {
                        "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "finish_reason": None, **choice}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
