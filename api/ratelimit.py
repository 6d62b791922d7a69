"""Per-client rate limits (token buckets) on booking creation and the expensive endpoints.

A client is its IP address as uvicorn reports it (behind a reverse proxy, run
uvicorn with the proxy's address in ``FORWARDED_ALLOW_IPS`` so that
``X-Forwarded-For`` names the real client). Requests with a valid operator
key are not limited. Over the limit, the answer is 429 with ``Retry-After``
(whole seconds until the next request would pass).

Each worker process keeps its own buckets: with ``N`` workers (``ELSTER_WORKERS``,
set by ``elster serve --workers N``) each allows ``ceil(limit / N)`` per period,
and the kernel spreads a client's connections over the workers, so a client
gets about ``limit`` per period in all (a client on one keep-alive connection
that always lands on one worker gets ``limit / N``).
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_body

#: The rate-limitable endpoints (method, path under the API prefix) of each limit class.
LIMITED_ROUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "booking": (("POST", "/shuttle/bookings"),),
    "routing": (
        ("GET", "/plan"),
        ("GET", "/route"),
        ("POST", "/matrix"),
        ("GET", "/isochrone"),
        ("GET", "/departures"),
        ("POST", "/shuttle/quote"),
    ),
}

#: Most clients remembered per limit (least recently seen forgotten first: bounded memory).
MAX_CLIENTS = 50_000


@dataclass(frozen=True)
class Limit:
    """``requests`` per ``period_s`` seconds for the endpoints of one class."""

    name: str
    requests: float
    period_s: float

    @classmethod
    def parse(cls, name: str, text: str, *, workers: int = 1) -> Limit | None:
        """``"N/S"`` (N requests per S seconds) shared by ``workers``; ``"0"`` or ``""`` = none.

        Raises
        ------
        ValueError
            The text is not of that form.
        """
        text = text.strip()
        if text in ("", "0"):
            return None
        try:
            count, period = text.split("/")
            requests, period_s = float(count), float(period)
        except ValueError:
            raise ValueError(
                f"rate limit {name} = {text!r} is not 'N/S' (N requests per S seconds), "
                "e.g. '10/60'; '0' turns it off"
            ) from None
        if requests <= 0 or period_s <= 0:
            raise ValueError(f"rate limit {name} = {text!r}: N and S must be positive")
        return cls(name, float(math.ceil(requests / max(workers, 1))), period_s)


class TokenBuckets:
    """One token bucket per client for one :class:`Limit` (LRU-bounded)."""

    def __init__(self, limit: Limit, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.rate = limit.requests / limit.period_s
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """Take one token for ``client``: 0 when allowed, else seconds until one is there."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (self.limit.requests, now))
        tokens = min(self.limit.requests, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > MAX_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


class RateLimit:
    """ASGI middleware: 429 with ``Retry-After`` for a client over its limit.

    Parameters
    ----------
    app : ASGI app
    routes : dict
        ``(method, path) -> Limit`` of the limited endpoints.
    operator_keys : list of str
        Requests with one of these in ``X-API-Key`` are not limited.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: dict[tuple[str, str], Limit],
        operator_keys: list[str] = (),  # type: ignore[assignment]
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.routes = routes
        self.keys = [k.encode() for k in operator_keys]
        self.buckets = {
            limit.name: TokenBuckets(limit, clock=clock) for limit in set(routes.values())
        }

    def _operator(self, scope: Scope) -> bool:
        for name, value in scope.get("headers") or ():
            if name == b"x-api-key":
                return any(hmac.compare_digest(value, k) for k in self.keys)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get((scope.get("method", ""), scope.get("path", "")))
        if limit is None or (self.keys and self._operator(scope)):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.buckets[limit.name].take(str(client))
        if wait <= 0.0:
            await self.app(scope, receive, send)
            return
        import json

        retry = max(1, math.ceil(wait))
        payload = json.dumps(
            error_body(
                "rate_limited",
                f"too many {limit.name} requests from this client: at most "
                f"{limit.requests:g} per {limit.period_s:g} s per worker",
                f"wait {retry} s (Retry-After) before the next one",
            )
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"retry-after", str(retry).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
