"""A scriptable OpenAI-compatible server on loopback, for hostile-server tests: it replies with
whatever text (escape sequences included), as whatever role, can ignore max_tokens and stream
megabytes, and records every request's headers (which API key reached it).

It runs in the test process on a thread; CLI tests run prefchat as a subprocess against it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def chunk(index, content=None, finish=None, role=None) -> bytes:
    delta = {}
    if role is not None:
        delta["role"] = role
    if content is not None:
        delta["content"] = content
    return ("data: " + json.dumps({
        "id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}) + "\n\n").encode()


class ScriptedServer:
    """mode: "reply" (stream `text` as the assistant), "role:NAME" (the reply's role is NAME),
    "flood" (ignore max_tokens: stream `flood_bytes` of text in 64 KiB pieces), "models" (only
    /models matters). Every request's headers land in `headers`."""

    def __init__(self, text: str = "hello", mode: str = "reply", flood_bytes: int = 50_000_000,
                 port: int = 0):
        self.text, self.mode, self.flood_bytes = text, mode, flood_bytes
        self.headers: list[dict] = []
        self.bodies: list[dict] = []
        self.sent_bytes = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.headers.append(dict(self.headers))
                data = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                outer.headers.append(dict(self.headers))
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    if outer.mode == "flood":
                        piece = "x" * 65536
                        self.wfile.write(chunk(0, role="assistant"))
                        sent = 0
                        while sent < outer.flood_bytes:
                            data = chunk(0, piece)
                            self.wfile.write(data)
                            sent += len(data)
                            outer.sent_bytes += len(data)
                    else:
                        role = outer.mode.split(":", 1)[1] if outer.mode.startswith("role:") \
                            else "assistant"
                        self.wfile.write(chunk(0, role=role))
                        for i in range(0, len(outer.text), 7):
                            self.wfile.write(chunk(0, outer.text[i:i + 7]))
                    self.wfile.write(chunk(0, None, "stop"))
                    self.wfile.write(b"data: [DONE]\n\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading: exactly what a bounded client does

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def auth(self) -> list:
        return [next((v for k, v in h.items() if k.lower() == "authorization"), None)
                for h in self.headers]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

