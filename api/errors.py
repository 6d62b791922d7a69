"""Map every error to a JSON body ``{"error", "message", "fix"}`` with the right status.

Errors raised on purpose derive from :class:`routing.errors.ElsterError` and
become 4xx responses; validation failures become 422 with one readable
sentence per bad field. A 5xx is always a bug (or, for 503, a component this
build does not have), and its body never carries a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from routing.errors import (
    DataError,
    ElsterError,
    FetchError,
    NoRouteError,
    RegionError,
    RequestError,
    SnapError,
)

logger = logging.getLogger(__name__)


class ApiError(ElsterError):
    """An error with its own HTTP status and code, raised by the API layer."""

    status = 400
    code = "bad_request"
    default_fix = ""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix if fix is not None else self.default_fix


class NotFoundError(ApiError, LookupError):
    """The addressed object does not exist (or the caller may not know it exists)."""

    status = 404
    code = "not_found"
    default_fix = "check the id"


class AuthError(ApiError):
    """A missing or wrong API key or booking token."""

    status = 401
    code = "unauthorized"
    default_fix = "send the operator key in the X-API-Key header"


class ConflictError(ApiError):
    """The request contradicts stored state (reused idempotency key, cancelled booking...)."""

    status = 409
    code = "conflict"


class RejectedError(ApiError):
    """A valid request the service cannot serve (no shuttle seat in the window...)."""

    status = 422
    code = "rejected"


class UnavailableError(ApiError):
    """A component this build or region does not provide (no timetable, no dispatcher)."""

    status = 503
    code = "unavailable"


# Core errors: status, code and a generic fix when the message has none.
_CORE_ERRORS: tuple[tuple[type[ElsterError], int, str, str], ...] = (
    (SnapError, 422, "unsnappable", "choose a point inside the region, near a road"),
    (NoRouteError, 404, "no_route", "try other modes, another time or nearby points"),
    (RequestError, 422, "bad_request", "correct the named parameter"),
    (RegionError, 404, "unknown_region", "use one of the regions the server has loaded"),
    (DataError, 422, "bad_data", "correct the named field"),
    (FetchError, 503, "fetch_failed", "retry later"),
)


def error_body(code: str, message: str, fix: str = "", **extra: Any) -> dict[str, Any]:
    """Build the JSON body shared by all error responses."""
    return {"error": code, "message": message, "fix": fix, **extra}


def error_response(
    status: int, code: str, message: str, fix: str = "", **extra: Any
) -> JSONResponse:
    """Return a JSON error response."""
    return JSONResponse(status_code=status, content=error_body(code, message, fix, **extra))


def _classify(exc: ElsterError) -> tuple[int, str, str]:
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.fix
    for cls, status, code, fix in _CORE_ERRORS:
        if isinstance(exc, cls):
            return status, code, fix
    return 400, "bad_request", "correct the request"


async def _elster_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ElsterError)
    status, code, fix = _classify(exc)
    logger.info("%s %s -> %d %s: %s", request.method, request.url.path, status, code, exc)
    headers = {"WWW-Authenticate": "ApiKey"} if status == 401 else None
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        headers = {"Retry-After": str(int(retry_after))}
    response = error_response(status, code, str(exc), fix)
    if headers:
        response.headers.update(headers)
    return response


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, rest = parts[0], parts[1:]
        return f"{where} field {'.'.join(rest)!r}" if rest else f"request {where}"
    return ".".join(parts) or "request"


#: Readable names of the regular expressions used in query parameters.
PATTERN_HINTS = {
    r"^\s*-?\d{1,3}(\.\d+)?\s*,\s*-?\d{1,3}(\.\d+)?\s*$": "'lat,lon' (for example 49.4094,8.6937)",
}


def validation_messages(errors: list[dict[str, Any]] | Any) -> list[str]:
    """Turn pydantic error dicts into sentences like ``query field 'lat': ...``."""
    messages = []
    for err in errors:
        kind = err.get("type", "")
        where = _field_path(err.get("loc", ()))
        if kind == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "")
            messages.append(f"request body is not valid JSON ({detail})".replace(" ()", ""))
        elif kind == "missing":
            messages.append(f"{where} is required")
        elif (
            kind == "string_pattern_mismatch"
            and (err.get("ctx") or {}).get("pattern") in PATTERN_HINTS
        ):
            hint = PATTERN_HINTS[err["ctx"]["pattern"]]
            messages.append(f"{where}: {err.get('input')!r} is not {hint}")
        else:
            messages.append(f"{where}: {err.get('msg', 'invalid value')}")
    return messages


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    messages = validation_messages(errors)
    details = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]
    return error_response(
        422,
        "invalid_request",
        "; ".join(messages) or "invalid request",
        "correct the named fields; see /docs for the expected types and ranges",
        details=details,
    )


#: Machine codes and fixes of the statuses raised by the framework and the middleware.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    422: "invalid_request",
    429: "rate_limited",
}
HTTP_FIXES = {
    400: "send a well-formed HTTP request; see /docs",
    401: "send the operator key in the X-API-Key header",
    404: "see /docs for the available endpoints",
    405: "use one of the methods in the Allow header; see /docs",
    408: "send the whole request body promptly",
    413: "send a smaller body (the limit is set by ELSTER_MAX_BODY_BYTES)",
    422: "correct the named fields; see /docs for the expected types and ranges",
    429: "wait for the number of seconds in the Retry-After header, then retry",
}
#: FastAPI's detail when the body is not UTF-8 JSON or nested too deeply to parse.
_BODY_PARSE_DETAIL = "There was an error parsing the body"


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app accepts on this path (for ``Allow``).

    Each method is tried against every route (included routers too): a full
    match means some route serves it.
    """
    from starlette.routing import Match

    methods = []
    for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"):
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] == Match.FULL for route in request.app.router.routes):
            methods.append(method)
    return methods


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400 and exc.detail == _BODY_PARSE_DETAIL:
        # Invalid UTF-8, or JSON nested deeper than the parser follows: the same answer
        # as any other body that is not valid JSON.
        return error_response(
            422,
            "invalid_request",
            "request body is not valid JSON: it must be UTF-8 and nested at most a few "
            "hundred levels deep",
            "send the body as UTF-8 JSON of the documented shape; see /docs",
        )
    response = error_response(
        status,
        HTTP_CODES.get(status, "http_error"),
        str(exc.detail),
        HTTP_FIXES.get(status, "see /docs for this endpoint"),
    )
    if exc.headers:
        response.headers.update(exc.headers)
    if status == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("bug: unhandled error on %s %s", request.method, request.url.path)
    return error_response(
        500,
        "internal_error",
        "internal error; this is a bug in Elster and has been logged",
        "report the request that caused it",
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn exceptions into JSON error bodies."""
    app.add_exception_handler(ElsterError, _elster_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
