"""A lean ASGI fast path for ``GET /api/v1/route`` (the hottest, cheapest endpoint).

A road route takes a few hundred microseconds; FastAPI's routing, dependency
solving and query validation around it cost about as much again. This
middleware sits innermost in the stack (inside the security headers, metrics,
rate limit and body limit middleware, which all still apply) and answers a
well-formed route request itself: the same checks as the endpoint's query
declaration (required, ``max_length``, the ``lat,lon`` pattern, the profile
and format enums), the same body built by :func:`api.routers.route.route_answer`,
serialised with orjson.

Anything else is handed to the FastAPI application unchanged: other paths and
methods, unknown or repeated query parameters, values the declaration would
refuse, and every error the route raises (a point outside the region, too far
from a road, no route, a component not loaded). So the error contract (JSON
``{"error", "message", "fix"}``, 422 with ``details``, 404, 503) is FastAPI's
own, and the endpoint stays in the OpenAPI document.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from api.json import dumps
from api.validation import PLACE_PATTERN, parse_place

logger = logging.getLogger(__name__)

#: The path served (``API_PREFIX`` + the router's path).
ROUTE_PATH = "/api/v1/route"

_PLACE = re.compile(PLACE_PATTERN)
_MAX_PLACE = 64  # the Query(max_length=...) of fromPlace / toPlace
_PROFILES = frozenset(("walk", "bike", "car", "shuttle"))  # api.routers.route.Profile
_KNOWN = frozenset(("fromPlace", "toPlace", "profile", "format"))
_JSON_HEADER = (b"content-type", b"application/json")


def query_params(query: str) -> dict[str, str] | None:
    """The route's query parameters, or ``None`` when one is unknown or repeated.

    The same pairs as ``parse_qsl(query, keep_blank_values=True)`` (what Starlette
    parses for FastAPI); a query without ``%`` or ``+`` has nothing to unquote, so
    it is split directly.
    """
    if "%" in query or "+" in query:
        pairs: list[tuple[str, str]] | list[list[str]] = parse_qsl(query, keep_blank_values=True)
    else:
        pairs = [
            piece.split("=", 1) if "=" in piece else [piece, ""]
            for piece in query.split("&")
            if piece
        ]
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params or key not in _KNOWN:
            return None
        params[key] = value
    return params


class RouteFastPath:
    """ASGI middleware answering well-formed ``GET /api/v1/route`` requests directly.

    Parameters
    ----------
    app : ASGI app
        The rest of the stack (FastAPI's exception handling and router).
    fastapi_app : FastAPI
        The application: its ``state.elster`` (the loaded region). The route
        object that the metrics report as the template is the one FastAPI's
        router names for the first request, which goes through it.
    """

    def __init__(self, app: ASGIApp, *, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self._route: Any = None
        self._route_answer: Any = None

    def _answer(self, scope: Scope) -> bytes | None:
        """The JSON body of a well-formed route request, or ``None`` to let FastAPI answer."""
        params = query_params(scope.get("query_string", b"").decode("latin-1"))
        if params is None:
            return None
        from_place, to_place = params.get("fromPlace"), params.get("toPlace")
        if from_place is None or to_place is None:
            return None
        for text in (from_place, to_place):
            if len(text) > _MAX_PLACE or _PLACE.match(text) is None:
                return None
        profile = params.get("profile", "car")
        if profile not in _PROFILES or params.get("format", "json") != "json":
            return None
        state = getattr(self.fastapi_app.state, "elster", None)
        if state is None or not state.component("road").ready:
            return None
        answer = self._route_answer
        if answer is None:
            from api.routers.route import route_answer as answer  # the routers import us

            self._route_answer = answer
        try:
            origin = parse_place(from_place, name="fromPlace")
            destination = parse_place(to_place, name="toPlace")
            return dumps(answer(state, profile, origin, destination))
        except Exception:  # the endpoint raises it again and maps it to its JSON error
            return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != ROUTE_PATH
            or scope.get("method") != "GET"
            or scope.get("root_path")
        ):
            await self.app(scope, receive, send)
            return
        if self._route is None:
            # The first request goes through FastAPI, which names the matched route in
            # the scope: the object the metrics take the route template from.
            await self.app(scope, receive, send)
            self._route = scope.get("route")
            return
        body = self._answer(scope)
        if body is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route  # the metrics' route template, as the router sets it
        headers = [(b"content-length", str(len(body)).encode()), _JSON_HEADER]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
