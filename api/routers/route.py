"""``/route``: the fastest road route of one profile between two points."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import get_state, need
from api.schemas import ERROR_RESPONSES, GeoJSON, RouteResponse
from api.services import road
from api.services.geojson import collection, feature, line
from api.services.planner import place
from api.services.polyline import encode
from api.state import RegionState
from api.validation import PLACE_PATTERN, parse_place

router = APIRouter(tags=["road"])

Profile = Literal["walk", "bike", "car"]


@router.get(
    "/route",
    response_model=RouteResponse | GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Road route",
)
def road_route(
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
    """Fastest ``profile`` route: duration, distance and geometry (polyline precision 6)."""
    need(state, "road", "road routing")
    origin = parse_place(from_place, name="fromPlace")
    destination = parse_place(to_place, name="toPlace")
    found = road.route(state, profile, origin, destination)
    if format == "geojson":
        return collection(
            [
                feature(
                    line(found.lats, found.lons),
                    {
                        "profile": profile,
                        "duration": round(found.duration_s, 1),
                        "distance": round(found.distance_m, 1),
                    },
                )
            ]
        )
    return {
        "profile": profile,
        "duration": round(found.duration_s, 1),
        "distance": round(found.distance_m, 1),
        "from": place("Origin", *origin),
        "to": place("Destination", *destination),
        "legGeometry": {
            "points": encode(found.lats, found.lons, 6),
            "precision": 6,
            "length": int(found.lats.size),
        },
    }
