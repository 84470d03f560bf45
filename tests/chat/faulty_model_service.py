"""Model services that fail on purpose.

Test doubles, used only for faults a real service cannot be made to produce on
demand: an HTTP 500, a connection dropped in the middle of an answer, and an
engine that goes silent.
"""

import asyncio
import json
import threading


class FaultyModelService:
    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        self.ready.wait(5)
        return f"http://127.0.0.1:{self.port}/v1"

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        await getattr(self, self.behaviour)(writer)
        writer.close()

    async def error_500(self, writer):
        body = json.dumps({"error": {"message": "CUDA out of memory", "type": "server_error", "code": 500}}).encode()
        writer.write(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    async def drop_mid_answer(self, writer):
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        for word in ["Once ", "upon ", "a ", "time"]:
            chunk = {
                "id": "x",
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
            }
            writer.write(f"data: {json.dumps(chunk)}\n\n".encode())
            await writer.drain()
            await asyncio.sleep(0.1)
        # ...and the connection drops without finish_reason or [DONE].

    async def stall_before_answering(self, writer):
        """Headers at once, then silence: an engine stuck behind other requests."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(8)
