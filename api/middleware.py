"""ASGI middleware: request body size limit and Prometheus request metrics.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so they add microseconds,
not a task switch, to every request.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

_JSON = [(b"content-type", b"application/json")]


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    import json

    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*_JSON, (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodySizeLimit:
    """Reject request bodies larger than ``max_bytes`` with 413 and a JSON message.

    The declared ``Content-Length`` is checked first; bodies without one
    (chunked) are read up to the limit and then replayed to the application.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: str) -> dict[str, Any]:
        return error_body(
            "payload_too_large",
            f"request body of {size} bytes exceeds the limit of {self.max_bytes} bytes",
            "send a smaller body (the limit is set by ELSTER_MAX_BODY_BYTES)",
        )

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
                        "bad_request", "Content-Length is not a number", "send a valid header"
                    ),
                )
                return
            if length > self.max_bytes:
                await _send_json(send, 413, self._too_large(str(length)))
                return
            await self.app(scope, receive, send)
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        # No declared length: buffer up to the limit, then replay.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_json(send, 413, self._too_large(f"more than {self.max_bytes}"))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


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


class MetricsMiddleware:
    """Count requests and time them by route template (not raw path: bounded labels)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

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
                # Which worker process answered (multi-worker tests, debugging).
                worker = (b"x-elster-worker", str(os.getpid()).encode())
                message["headers"] = [*message.get("headers", ()), worker]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "static" if scope["path"].startswith("/static") else "unmatched"
            )
            method = scope.get("method", "GET")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
