"""``/isochrone``: the streets reachable from a point within a time budget."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from api.deps import get_state, need, network_for
from api.schemas import ERROR_RESPONSES, GeoJSON
from api.services.geojson import collection, feature
from api.state import RegionState
from api.validation import PLACE_PATTERN, check_in_region, parse_place

router = APIRouter(tags=["road"])


@router.get("/isochrone", response_model=GeoJSON, responses=ERROR_RESPONSES, summary="Isochrone")
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
) -> dict:
    """Reached street pieces as one GeoJSON MultiLineString (partly reached edges cut)."""
    need(state, "road", "isochrones")
    from routing.isochrone import isochrone_polylines

    lat, lon = parse_place(place, name="place")
    check_in_region(state, lat, lon, name="place")
    network = network_for(state, profile)
    reached = network.isochrone_edges((lat, lon), minutes * 60.0)
    graph = network.current_graph()
    lines = [
        [[round(float(x), 6), round(float(y), 6)] for y, x in zip(lats, lons, strict=True)]
        for lats, lons in isochrone_polylines(graph, reached)
        if len(lats) >= 2
    ]
    return collection(
        [
            feature(
                {"type": "MultiLineString", "coordinates": lines},
                {"profile": profile, "minutes": minutes, "edges": len(lines)},
            )
        ]
    )
