"""The FastAPI application: factory, lifespan, middleware, routers and the map page.

Run it with ``elster serve REGION`` or ``uvicorn --factory api.app:create_app``;
settings come from ``ELSTER_*`` environment variables (:class:`api.settings.Settings`).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
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
from api.middleware import BodySizeLimit, Metrics, MetricsMiddleware
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

Errors are JSON `{"error", "message", "fix"}`. Operator endpoints need the
`X-API-Key` header; a booking is read or cancelled with its `X-Booking-Token`.
"""


# Router modules under api/routers, each exposing ``router``; order = order in /docs.
ROUTER_MODULES = (
    "health",
    "metrics",
    "plan",
    "route",
    "matrix",
    "isochrone",
    "stops",
    "map_layers",
    "stations",
    "chargers",
    "shuttle",
    "fleet",
    "operations",
)


def _routers() -> list[Any]:
    return [importlib.import_module(f"api.routers.{name}").router for name in ROUTER_MODULES]


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
    dispatcher: Any = None,
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
        loaded.shuttle._on_outcome = lambda outcome: metrics.bookings.labels(outcome).inc()
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
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.metrics = metrics
    app.state.settings = settings
    install_error_handlers(app)
    for router in _routers():
        app.include_router(router, prefix=API_PREFIX)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg")

    # Outermost first: metrics see every answer, including 413s from the size limit.
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key", "X-Booking-Token", "Idempotency-Key"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
