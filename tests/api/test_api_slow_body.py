"""Slow bodies (issue 17, finding 10): a body not sent in time is a 408 and a closed connection.

A real uvicorn (the server's own HTTP stack) on 127.0.0.1 runs a small app
behind :class:`api.middleware.BodySizeLimit`; a raw socket announces a body
and sends only part of it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from api.middleware import BodySizeLimit
from api.workers import uvicorn_speedups
from tests.support.api import free_port

TIMEOUT_S = 0.5


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answer the length of the body it received."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    payload = json.dumps({"received": size}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


@pytest.fixture(scope="module", params=["h11", "httptools"])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    if request.param == "httptools" and uvicorn_speedups()["http"] != "httptools":
        pytest.skip("httptools not installed")
    app = BodySizeLimit(echo, max_bytes=64 * 1024, timeout_s=TIMEOUT_S)
    number = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=number, log_level="warning",
                            http=request.param, lifespan="off")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield number
    server.should_exit = True
    thread.join(timeout=10)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_body_announced_but_not_sent_is_408_and_the_connection_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 60000\r\n\r\n{}")  # fmt: skip
        answer = _read_all(sock)  # returns only once the server has closed the connection
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    error = json.loads(body)
    assert error["error"] == "request_timeout" and error["fix"]


def test_a_chunked_body_that_stalls_is_408(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"2\r\n{}\r\n")  # fmt: skip
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer


def test_a_whole_body_still_reaches_the_app(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        payload = b'{"a": "' + b"x" * 5000 + b'"}'
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: "
                     + str(len(payload)).encode() + b"\r\n\r\n" + payload)  # fmt: skip
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"received": len(payload)}
