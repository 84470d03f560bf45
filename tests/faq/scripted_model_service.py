"""An OpenAI-compatible model service that answers from a script.

A test double, for what the real CPU model cannot be made to do on demand:
write a given answer (one that strays from the entries, say) and a given
conversation title. It speaks the contract the app relies on: POST
/v1/chat/completions, streamed (SSE chunks, then [DONE]) or whole (one JSON body).

The naming question (a system prompt starting "You name conversations") gets
`title`; anything else (the bot's answer) gets `answer`.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def naming(body):
    """Whether the request asks for a conversation's title."""
    first = body["messages"][0]
    return first["role"] == "system" and first["content"].startswith("You name conversations")


class ScriptedModelService:
    def __init__(self, answer="", title="A title"):
        self.answer, self.title = answer, title
        self.requests = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                service.requests.append(body)
                reply = service.title if naming(body) else service.answer
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
                self.wfile.write(payload)

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

    def answers_asked(self):
        """The requests for an answer (not for a title)."""
        return [body for body in self.requests if not naming(body)]

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
