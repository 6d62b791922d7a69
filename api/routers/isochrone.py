"""``/isochrone``: the area reachable from a point within a time budget, as a polygon.

The answer is bounded whatever the request: a simplified MultiPolygon of at
most :data:`api.services.isochrone_shape.MAX_VERTICES` vertices (not every
reached street), computed on a pool of ``ELSTER_ISOCHRONE_CONCURRENCY``
threads of its own per worker (the same few threads, so the allocator keeps
few arenas: memory stays bounded under a flood), with at most
:data:`QUEUE_LIMIT` more waiting (beyond that: 503 with Retry-After), and
identical requests under the same live state are answered from a small
per-worker cache.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import get_state, need, network_for
from api.errors import UnavailableError
from api.json import dumps
from api.schemas import ERROR_RESPONSES, GeoJSON
from api.services.geojson import collection, feature
from api.state import RegionState
from api.validation import PLACE_PATTERN, check_in_region, parse_place

router = APIRouter(tags=["road"])

#: Answers kept per worker (each a few tens of kB at most).
CACHE_SIZE = 256
#: Isochrones that may wait for a computing thread; more are answered 503 at once.
QUEUE_LIMIT = 32
_cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
_cache_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}
_pending = 0  # computing or waiting, in this worker


class BusyError(UnavailableError):
    """Every isochrone slot of this worker stayed busy: retry shortly."""

    code = "busy"
    retry_after = 2


def _pool(concurrency: int) -> ThreadPoolExecutor:
    with _cache_lock:
        if concurrency not in _pools:
            _pools[concurrency] = ThreadPoolExecutor(concurrency, thread_name_prefix="isochrone")
        return _pools[concurrency]


def _compute(network: Any, lat: float, lon: float, budget_s: float) -> tuple[Any, ...]:
    from api.services.isochrone_shape import isochrone_geometry

    try:
        reached = network.isochrone_edges((lat, lon), budget_s)
        graph = network.current_graph()
        geometry, facts = isochrone_geometry(graph, reached.edges, reached.fraction)
        return geometry, facts, int(reached.edges.size)
    finally:
        _give_back_freed_memory()


def _give_back_freed_memory() -> None:
    """Return the isochrone's freed scratch memory (tens of MB) to the OS.

    glibc keeps freed blocks in the thread's own arena and raises its mmap
    threshold after large frees, so a flood of isochrones would leave each
    worker holding its peak for good. ``malloc_trim`` releases the free pages
    of every arena; it costs about a millisecond against a computation of
    hundreds. A no-op where glibc is not the allocator.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


@router.get(
    "/isochrone",
    response_model=GeoJSON,
    responses={
        **ERROR_RESPONSES,
        503: {
            "model": ERROR_RESPONSES[503]["model"],
            "description": "Component not available, or busy (see Retry-After)",
        },
    },
    summary="Isochrone",
)
async def isochrone(
    place: str = Query(
        ...,
        max_length=64,
        pattern=PLACE_PATTERN,
        description="Start as 'lat,lon'.",
        examples=["49.4094,8.6937"],
    ),
    profile: Literal["walk", "bike", "car"] = Query("walk"),
    minutes: float = Query(10.0, gt=0, le=60, description="Time budget in minutes."),
    state: RegionState = Depends(get_state),
) -> Response:
    """The reachable area as one GeoJSON MultiPolygon (lon, lat), simplified.

    The area is every grid cell within one cell of a street reached in time
    (``cellM``, the grid's resolution, grows with the area: 40 m for a short
    walk, about 120 m for an hour's cycling); ``edges`` counts the reached
    street pieces. The start is matched to the nearest road.
    """
    global _pending
    need(state, "road", "isochrones")
    lat, lon = parse_place(place, name="place")
    check_in_region(state, lat, lon, name="place")
    network = network_for(state, profile)
    version = state.live.current().version if state.live is not None else 0
    # ~1 m and 1 s steps: requests this close have the same answer. The live state's
    # version and the minute: a change, or a closure whose time window opens, is seen
    # within a minute.
    key = (profile, round(lat, 5), round(lon, 5), round(minutes * 60.0), version,
           int(time.time() // 60))  # fmt: skip
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is None:
        concurrency = state.settings.isochrone_concurrency
        with _cache_lock:
            if _pending >= concurrency + QUEUE_LIMIT:
                raise BusyError(
                    "too many isochrones are being computed right now",
                    fix=f"retry in {BusyError.retry_after} s",
                )
            _pending += 1
        try:
            future = _pool(concurrency).submit(_compute, network, lat, lon, minutes * 60.0)
            geometry, facts, n_edges = await asyncio.wrap_future(future)
        finally:
            with _cache_lock:
                _pending -= 1
        properties = {"profile": profile, "minutes": minutes, "edges": n_edges, **facts}
        cached = dumps(collection([feature(geometry, properties)]))
        with _cache_lock:
            _cache[key] = cached
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return Response(cached, media_type="application/json")
