"""``/isochrone``: the area reachable from a point within a time budget, as a polygon.

The answer is bounded whatever the request: a simplified MultiPolygon of at
most :data:`api.services.isochrone_shape.MAX_VERTICES` vertices (not every
reached street), computed by at most ``ELSTER_ISOCHRONE_CONCURRENCY``
requests at once per worker (others wait up to ``ISOCHRONE_WAIT_S``, then get
503 with Retry-After), and identical requests under the same live state are
answered from a small per-worker cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Literal

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
#: Seconds a request waits for a free computation slot before it is answered 503.
ISOCHRONE_WAIT_S = 5.0
_cache: OrderedDict[tuple[object, ...], bytes] = OrderedDict()
_cache_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


class BusyError(UnavailableError):
    """Every isochrone slot of this worker stayed busy: retry shortly."""

    code = "busy"
    retry_after = 2


def _slot(concurrency: int) -> threading.BoundedSemaphore:
    with _cache_lock:
        if concurrency not in _slots:
            _slots[concurrency] = threading.BoundedSemaphore(concurrency)
        return _slots[concurrency]


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
def isochrone(
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
    need(state, "road", "isochrones")
    from api.services.isochrone_shape import isochrone_geometry

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
        slot = _slot(state.settings.isochrone_concurrency)
        if not slot.acquire(timeout=ISOCHRONE_WAIT_S):
            raise BusyError(
                "too many isochrones are being computed right now",
                fix=f"retry in {BusyError.retry_after} s",
            )
        try:
            reached = network.isochrone_edges((lat, lon), minutes * 60.0)
            geometry, facts = isochrone_geometry(
                network.current_graph(), reached.edges, reached.fraction
            )
        finally:
            slot.release()
        properties = {"profile": profile, "minutes": minutes, "edges": int(reached.edges.size),
                      **facts}  # fmt: skip
        cached = dumps(collection([feature(geometry, properties)]))
        with _cache_lock:
            _cache[key] = cached
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return Response(cached, media_type="application/json")
