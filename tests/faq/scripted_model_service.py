"""An OpenAI-compatible model service that answers from a script.

A test double, for what the real CPU model cannot be made to do on demand: be
a capable model that judges coverage and verifies answers ("2", "no"), write
an answer that strays from the entries, or be slow on purpose. It speaks the
contract the app relies on: POST /v1/chat/completions, streamed (SSE chunks,
then [DONE]) or whole (one JSON body).

Each reply is chosen by the system prompt's first words:
- the coverage question ("You decide whether a knowledge base answers...") → `judge`;
- the verification question ("You check an answer...") → `verify`;
- the naming question ("You name conversations...") → `title`;
- anything else (the bot's answer) → `answer`.
`delay` (seconds) holds the judge's and verifier's replies back, for timeouts.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedModelService:
    def __init__(self, answer="", judge="1", verify="yes", delay=0.0, title="A title"):
        self.answer, self.judge, self.verify, self.delay, self.title = answer, judge, verify, delay, title
        self.requests = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                service.requests.append(body)
                system = body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else ""
                if system.startswith("You decide whether a knowledge base answers"):
                    reply, kind = service.judge, "judge"
                elif system.startswith("You check an answer"):
                    reply, kind = service.verify, "verify"
                elif system.startswith("You name conversations"):
                    reply, kind = service.title, "title"
                else:
                    reply, kind = service.answer, "answer"
                if kind != "answer" and service.delay:
                    time.sleep(service.delay)
                if body.get("stream"):
                    self.stream(reply)
                else:
                    self.whole(reply)

            def whole(self, reply):
                payload = json.dumps(
                    {
                        "id": "scripted",
                        "object": "chat.completion",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that is the point of the delay

            def stream(self, reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                words = reply.split(" ")
                deltas = [{"role": "assistant", "content": ""}] + [
                    {"content": word if i == 0 else " " + word} for i, word in enumerate(words)
                ]
                for delta in deltas:
                    chunk = {
                        "object": "chat.completion.chunk",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                final = {
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 50, "completion_tokens": len(words), "total_tokens": 50 + len(words)},
                }
                self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def asked(self, kind):
        """The requests of one kind: "judge", "verify" or "answer"."""
        starts = {"judge": "You decide whether a knowledge base answers", "verify": "You check an answer"}

        def kind_of(body):
            system = body["messages"][0]["content"]
            return next((name for name, start in starts.items() if system.startswith(start)), "answer")

        return [body for body in self.requests if kind_of(body) == kind]

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
