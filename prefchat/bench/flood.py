"""`prefchat bench flood`: what a runaway OpenAI-compatible server costs. A loopback server ignores
max_tokens and streams SIZE megabytes per request; the openai backend must cut each candidate at its
bound (llm/openai_stream.reply_bounds), return promptly and keep memory small. Reports wall time,
the Python heap peak (tracemalloc) and the process's peak RSS, for each N."""

from __future__ import annotations

import json
import resource
import threading
import time
import tracemalloc
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prefchat.llm import GenerationRequest, make_backend


def _flood_server(megabytes: int, chunk_chars: int) -> ThreadingHTTPServer:
    piece = ("data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                    "model": "m", "choices": [{"index": 0, "delta": {
                                        "content": "x" * chunk_chars}, "finish_reason": None}]})
             + "\n\n").encode()
    batch = piece * max(1, 65536 // len(piece))  # fewer write calls; the client sees each chunk
    end = ("data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                  "model": "m", "choices": [{"index": 0, "delta": {},
                                                             "finish_reason": "length"}]})
           + "\n\ndata: [DONE]\n\n").encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for _ in range(megabytes * 1_000_000 // len(batch) + 1):
                    self.wfile.write(batch)
                self.wfile.write(end)
            except OSError:
                pass  # the client stopped reading: what a bounded client does

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def measure(size_mb: int = 50, counts: Sequence[int] = (1, 4), max_tokens: int = 512, chunk_chars: int = 16) -> dict:
    """Time and memory of one request per candidate count against the flooding server; the dict
    `--json` prints."""
    from prefchat.llm import openai_compat  # imports openai

    bounds = getattr(openai_compat, "reply_bounds", None)  # absent before replies were bounded

    srv = _flood_server(size_mb, chunk_chars)
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    rows = []
    try:
        for k in counts:
            b = make_backend("openai", "m", base_url=url, timeout=30, max_retries=0)
            req = GenerationRequest([{"role": "user", "content": "hi"}], n=k, max_tokens=max_tokens)
            tracemalloc.start()
            t0 = time.perf_counter()
            out = b.generate(req)
            secs = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows.append({"n": k, "seconds": round(secs, 3), "heap_peak_mb": round(peak / 2**20, 1),
                         "chars_kept": [len(c.text) for c in out],
                         "finish": sorted({c.finish_reason for c in out})})
    finally:
        srv.shutdown()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"server_mb_per_request": size_mb,
            "bound_chars": bounds(max_tokens)[0] if bounds else None,
            "runs": rows, "process_peak_rss_mb": round(rss, 1)}


def report(result: dict) -> str:
    """One line per candidate count, then the process's peak memory."""
    lines = [f"N={r['n']}: {r['seconds']:.2f} s, heap peak {r['heap_peak_mb']} MB, kept "
             f"{r['chars_kept']} chars, finish {r['finish']}" for r in result["runs"]]
    lines.append(f"process peak RSS {result['process_peak_rss_mb']} MB (server: {result['server_mb_per_request']} "
                 f"MB per request, bound {result['bound_chars']} chars)")
    return "\n".join(lines)
