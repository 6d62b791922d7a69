"""A local feed server for live-feed tests: 127.0.0.1, a thread, answers that change over time.

Each path serves whatever the test set last: a body (with an ETag, so a
conditional request gets 304), an HTTP error status, or a hang (the handler
sleeps past the client's timeout). Every request is recorded with its headers.
:func:`serve_gbfs` serves a whole GBFS feed directory with fresh stamps.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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


def fresh(doc: dict[str, Any]) -> bytes:
    """A GBFS document stamped ``last_updated`` now (so its ``ttl`` counts from now), as JSON."""
    return json.dumps({**doc, "last_updated": int(time.time())}).encode()


def serve_gbfs(server: FeedServer, folder: Path, prefix: str) -> str:
    """Serve a GBFS feed directory under ``prefix``, stamped now; returns the gbfs.json URL.

    The discovery file's URLs are rewritten to this server (v3 ``data.feeds``
    and v2 ``data.<language>.feeds``).
    """
    base = server.url(prefix)
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text())
        if path.name == "gbfs.json":
            data = doc["data"]
            for feeds in [data.get("feeds")] + [
                v.get("feeds") for v in data.values() if isinstance(v, dict)
            ]:
                for item in feeds or []:
                    item["url"] = base + item["name"] + ".json"
        server.set(prefix + path.name, body=fresh(doc), content_type="application/json")
    return base + "gbfs.json"
