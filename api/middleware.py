"""ASGI middleware: request body size and read-time limits, and Prometheus request metrics.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so they add microseconds,
not a task switch, to every request.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

_JSON = [(b"content-type", b"application/json")]


async def _send_json(send: Send, status: int, body: dict[str, Any], *, close: bool = False) -> None:
    import json

    payload = json.dumps(body).encode()
    headers = [*_JSON, (b"content-length", str(len(payload)).encode())]
    if close:  # the rest of the request body is not read: the connection cannot be reused
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodySizeLimit:
    """Read request bodies whole, in time and within a size limit, before the app sees them.

    Too large: 413 (the declared ``Content-Length`` is checked first; bodies
    without one, chunked, are counted as they arrive). Too slow: a body not
    received within ``timeout_s`` of the request's start is answered 408 and
    the connection closed, so a client announcing ``Content-Length: 60000``
    and sending 2 bytes cannot hold a connection (and a worker's memory) for
    long. The body is then replayed to the application in one message (it is
    at most ``max_bytes``).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    def _too_large(self, size: str) -> dict[str, Any]:
        return error_body(
            "payload_too_large",
            f"request body of {size} bytes exceeds the limit of {self.max_bytes} bytes",
            "send a smaller body (the limit is set by ELSTER_MAX_BODY_BYTES)",
        )

    async def _read(self, receive: Receive) -> tuple[list[Message], bool]:
        """The request's body messages, and whether they stayed within the size limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages, True
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return messages, False
            if not message.get("more_body", False):
                return messages, True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _send_json(
                    send,
                    400,
                    error_body(
                        "bad_request",
                        "Content-Length is not a number",
                        "send a valid Content-Length header (or none, chunked)",
                    ),
                )
                return
            if length > self.max_bytes:
                await _send_json(send, 413, self._too_large(str(length)))
                return
            if length == 0:
                await self.app(scope, receive, send)
                return
        elif b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)  # no body at all
            return
        try:
            async with asyncio.timeout(self.timeout_s):
                messages, fits = await self._read(receive)
        except TimeoutError:
            await _send_json(
                send,
                408,
                error_body(
                    "request_timeout",
                    f"the request body was not received within {self.timeout_s:g} s",
                    "send the whole body promptly (the limit is ELSTER_BODY_TIMEOUT_S)",
                ),
                close=True,
            )
            return
        if not fits:
            await _send_json(send, 413, self._too_large(f"more than {self.max_bytes}"), close=True)
            return
        pending = list(messages)
        if pending and pending[-1]["type"] == "http.request":
            body = b"".join(m.get("body", b"") for m in pending)
            pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        await self.app(scope, replay, send)


#: Identifies this worker process in ``X-Elster-Worker`` (random: it reveals no PID).
WORKER_ID = secrets.token_hex(4)

#: Content-Security-Policy of every answer: the map page and /docs load only this
#: server's scripts and styles (inline styles allowed: Leaflet and Swagger UI set them),
#: and no page of this server may be framed.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
]


_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def with_security_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """``headers`` followed by each security header the answer does not set itself."""
    have = [name.lower() for name, _ in headers if name.lower() in _SECURITY_NAMES]
    if not have:  # the usual case: all of them, in their order
        return [*headers, *SECURITY_HEADERS]
    return [*headers, *((k, v) for k, v in SECURITY_HEADERS if k not in have)]


class SecurityHeaders:
    """Add the security headers (nosniff, no framing, CSP, no referrer) to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_security_headers(message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, send_wrapper)


class Metrics:
    """Per-application Prometheus collectors (own registry, so tests can build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "elster_http_requests_total",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "elster_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=(0.002, 0.005, 0.01, 0.02, 0.04, 0.08, 0.12, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=self.registry,
        )
        self.bookings = Counter(
            "elster_shuttle_bookings_total",
            "Shuttle booking outcomes (created, replayed, rejected, cancelled).",
            ["outcome"],
            registry=self.registry,
        )
        self.booking_batch = Histogram(
            "elster_shuttle_booking_batch_size",
            "Booking creations decided together in one lock hold (group commit).",
            buckets=(1, 2, 4, 8, 16, 32),
            registry=self.registry,
        )


#: Which worker process answered (multi-worker tests, debugging): a random id per
#: process, not the PID.
WORKER_HEADER = (b"x-elster-worker", WORKER_ID.encode())


class MetricsMiddleware:
    """Count requests and time them by route template (not raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # The labelled children, looked up once per label set: ``labels()`` takes a lock
        # and checks its arguments on every call. Bounded as the labels are.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    def observe(self, method: str, template: str, status: int, seconds: float) -> None:
        """Count one answer and record its duration."""
        counter = self._counters.get((method, template, status))
        if counter is None:
            counter = self.metrics.requests.labels(method, template, str(status))
            self._counters[(method, template, status)] = counter
        timer = self._timers.get((method, template))
        if timer is None:
            timer = self.metrics.latency.labels(method, template)
            self._timers[(method, template)] = timer
        counter.inc()
        timer.observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), WORKER_HEADER]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "static" if scope["path"].startswith("/static") else "unmatched"
            )
            self.observe(scope.get("method", "GET"), template, status, time.perf_counter() - start)
