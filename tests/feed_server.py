"""A local feed server for live-feed tests: 127.0.0.1, a thread, answers that change over time.

Each path serves whatever the test set last: a body (with an ETag, so a
conditional request gets 304), an HTTP error status, or a hang (the handler
sleeps past the client's timeout). Every request is recorded with its headers.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    """What one path answers."""

    body: bytes = b""
    status: int = 200
    hang_s: float = 0.0
    content_type: str = "application/x-protobuf"
    headers: dict[str, str] = field(default_factory=dict)


class FeedServer:
    """``with FeedServer() as server: server.set("/tu.pb", body=...); server.url("/tu.pb")``."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with owner._lock:
                    owner.requests.append((self.path, dict(self.headers.items())))
                    answer = owner.answers.get(path, Answer(status=404))
                if answer.hang_s:
                    time.sleep(answer.hang_s)
                if answer.status != 200:
                    self.send_response(answer.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = '"' + hashlib.sha1(answer.body).hexdigest() + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.send_header("ETag", etag)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(answer.body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str) -> str:
        """Address of ``path`` on this server."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def set(self, path: str, **answer: Any) -> None:
        """Make ``path`` answer this from now on."""
        with self._lock:
            self.answers[path] = Answer(**answer)

    def hits(self, path: str) -> list[dict[str, str]]:
        """Headers of the requests made to ``path`` so far."""
        with self._lock:
            return [h for p, h in self.requests if p.split("?")[0] == path]
