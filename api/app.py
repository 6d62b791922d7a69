"""The FastAPI application: factory, lifespan, middleware, routers and the map page.

Run it with ``elster serve REGION`` or ``uvicorn --factory api.app:create_app``;
settings come from ``ELSTER_*`` environment variables (:class:`api.settings.Settings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.fastroute import RouteFastPath
from api.middleware import BodySizeLimit, Metrics, MetricsMiddleware, SecurityHeaders
from api.ratelimit import RateLimit
from api.routers import ROUTERS
from api.services.shuttle import ShuttleDispatcher
from api.settings import Settings
from api.state import RegionState, load_state

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"

DESCRIPTION = """\
Elster trip planning for one region: multimodal itineraries (walk, bike, car,
transit, bike stations, shuttle), road routes, matrices and isochrones, transit
stops and departures, bike stations and chargers with live status, and
on-demand shuttle quotes and bookings.

Every error is JSON `{"error", "message", "fix"}` (plus `details` for 422) with
one of these statuses: 400 malformed HTTP request, 401 missing or wrong key or
token, 404 not found / no route, 405 method not allowed (see `Allow`), 408 body
not sent in time, 409 conflict, 413 body larger than the limit, 422 invalid
request (including a body that is not UTF-8 JSON), 429 too many requests (see
`Retry-After`), 503 component not available; a 500 is a bug. Operator endpoints
need the `X-API-Key` header; a booking is read or cancelled with its
`X-Booking-Token`.
"""


def _error_ref(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }


#: Errors any operation can answer, added to every operation of the OpenAPI document.
COMMON_ERRORS = {
    "400": "Malformed HTTP request (e.g. a Content-Length that is not a number)",
    "422": "Invalid or impossible request",
    "500": "Internal error (a bug; the body never carries a traceback)",
}
#: Errors of operations with a request body.
BODY_ERRORS = {
    "408": "The request body was not sent in time",
    "413": "Request body larger than ELSTER_MAX_BODY_BYTES",
}


def document_errors(
    schema: dict[str, Any], limited: frozenset[tuple[str, str]] = frozenset()
) -> dict[str, Any]:
    """Add the error statuses every operation shares to an OpenAPI document (in place).

    ``limited`` are the rate-limitable ``(METHOD, path)`` pairs (they also answer 429).
    """
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            extra = dict(COMMON_ERRORS)
            if "requestBody" in operation:
                extra.update(BODY_ERRORS)
            if (method.upper(), path) in limited:
                extra["429"] = "Too many requests from this client; wait Retry-After seconds"
            for status, description in extra.items():
                responses.setdefault(status, _error_ref(description))
            operation["responses"] = dict(sorted(responses.items()))
    return schema


async def _improve_plans(state: RegionState, every_s: float) -> None:
    """Every ``every_s`` seconds: re-optimise the shuttle plans and rebalance idle vehicles.

    Runs in a thread under the booking lock (bookings wait, none is lost or
    broken: re-optimisation keeps every promise); with several workers the
    first one due does it and logs it, the others replay it.
    """
    while True:
        await asyncio.sleep(every_s)
        try:
            await asyncio.to_thread(state.shuttle.periodic, every_s=every_s)
        except Exception:  # never let the background task die; the next round retries
            logger.exception("periodic shuttle re-optimisation failed")


def create_app(
    settings: Settings | None = None,
    *,
    dispatcher: ShuttleDispatcher | None = None,
    state: RegionState | None = None,
) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings : Settings, optional
        Default: read from the environment.
    dispatcher : ShuttleDispatcher, optional
        Use this shuttle dispatcher instead of the fleet's.
    state : RegionState, optional
        An already loaded region (tests share one between apps).
    """
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded: RegionState = (
            state
            if state is not None
            else await run_in_threadpool(load_state, settings, dispatcher=dispatcher)
        )
        loaded.shuttle.on_outcome = lambda outcome: metrics.bookings.labels(outcome).inc()
        if loaded.booking_batcher is not None:
            loaded.booking_batcher.on_batch = metrics.booking_batch.observe
        app.state.elster = loaded
        if loaded.realtime is not None and settings.live_feeds:
            loaded.realtime.start()  # poll the region's live feeds (api.live)
        every = settings.shuttle_reoptimise_s
        task = (
            asyncio.create_task(_improve_plans(loaded, every))
            if every > 0 and loaded.dispatcher is not None
            else None
        )
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if loaded.realtime is not None and settings.live_feeds:
                await asyncio.to_thread(loaded.realtime.stop)
            if state is None:
                loaded.bookings.close()

    app = FastAPI(
        title="Elster",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from local files (Swagger UI vendored, no CDN)
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)
    plain_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from api.ratelimit import LIMITED_ROUTES

            # Documented whether or not this server's settings turn the limits on.
            limited = frozenset(
                (method, API_PREFIX + path)
                for routes in LIMITED_ROUTES.values()
                for method, path in routes
            )
            app.openapi_schema = document_errors(plain_openapi(), limited)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)

    # Swagger UI 5 (OpenAPI 3.1) comes from the swagger-ui-py package's static files: no
    # CDN, nothing vendored. Mounted before /static, which would otherwise match first.
    from swagger_ui.utils import SWAGGER_UI_PY_ROOT

    swagger_files = StaticFiles(directory=str(SWAGGER_UI_PY_ROOT / "static"))
    app.mount("/static/swagger-ui", swagger_files, name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/dashboard", include_in_schema=False)
    def dashboard() -> FileResponse:
        # The page is public; its data comes from the operator endpoints (X-API-Key).
        return FileResponse(STATIC_DIR / "dashboard.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC_DIR / "docs.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg")

    # Innermost first (each add_middleware wraps the ones before): the route fast path
    # answers inside every limit and header below; metrics see every answer, including
    # 413s from the size limit.
    app.add_middleware(RouteFastPath, fastapi_app=app)
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "X-Booking-Token", "Idempotency-Key"],
        )
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    limits = settings.rate_limits(API_PREFIX)
    if limits:  # before the body is read: a limited client costs nothing more
        app.add_middleware(RateLimit, routes=limits, operator_keys=settings.operator_keys())
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(SecurityHeaders)  # outermost: every answer, errors included
    return app
