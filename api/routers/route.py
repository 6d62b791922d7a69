"""``/route``: the fastest road route of one profile between two points (the core's RoadNetwork)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import get_state, need, network_for
from api.json import json_response
from api.schemas import ERROR_RESPONSES, GeoJSON, RouteResponse
from api.state import RegionState
from api.validation import PLACE_PATTERN, check_in_region, parse_place
from routing.polyline import encode_polyline
from routing.transit.itinerary import POLYLINE_PRECISION, Place

router = APIRouter(tags=["road"])

Profile = Literal["walk", "bike", "car", "shuttle"]


@router.get(
    "/route",
    response_model=RouteResponse | GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Road route",
)
async def road_route(
    from_place: str = Query(
        ...,
        alias="fromPlace",
        max_length=64,
        pattern=PLACE_PATTERN,
        description="'lat,lon'",
        examples=["49.4094,8.6937"],
    ),
    to_place: str = Query(
        ...,
        alias="toPlace",
        max_length=64,
        pattern=PLACE_PATTERN,
        description="'lat,lon'",
        examples=["49.4183,8.6758"],
    ),
    profile: Profile = Query("car", description="Road profile."),
    format: Literal["json", "geojson"] = Query("json"),
    state: RegionState = Depends(get_state),
) -> Any:
    """Fastest ``profile`` route: duration, distance and geometry (polyline precision 6).

    ``async``: a route takes well under a millisecond, less than a hop to the
    thread pool would cost, so it runs on the event loop.
    """
    need(state, "road", "road routing")
    origin = parse_place(from_place, name="fromPlace")
    destination = parse_place(to_place, name="toPlace")
    return json_response(route_answer(state, profile, origin, destination, format))


def route_answer(
    state: RegionState,
    profile: str,
    origin: tuple[float, float],
    destination: tuple[float, float],
    format: str = "json",
) -> dict[str, Any]:
    """The body of a ``/route`` answer (shared with the fast path of :mod:`api.fastroute`).

    Raises
    ------
    RequestError, SnapError, NoRouteError
        A point outside the region or far from a road, an unknown profile, no route.
    """
    check_in_region(state, *origin, name="fromPlace")
    check_in_region(state, *destination, name="toPlace")
    found = network_for(state, profile).route(origin, destination)
    if format == "geojson":
        return {"type": "FeatureCollection", "features": [found.geojson()]}
    return {
        "profile": profile,
        "duration": round(found.duration_s, 1),
        "distance": round(found.distance_m, 1),
        "from": Place("Origin", *origin).to_dict(),
        "to": Place("Destination", *destination).to_dict(),
        "legGeometry": {
            "points": encode_polyline(found.lats, found.lons, POLYLINE_PRECISION),
            "precision": POLYLINE_PRECISION,
            "length": int(found.lats.size),
        },
    }
