"""``/map``: GeoJSON layers for the map page (the road network, transit lines).

The map page has no tile server: it draws these layers. They never change
while the process runs, so each is rendered once and kept as bytes.
"""

from __future__ import annotations

import json
from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import get_state, need, network_for
from api.schemas import ERROR_RESPONSES, GeoJSON
from api.state import RegionState

router = APIRouter(prefix="/map", tags=["map"])

GEOJSON_MEDIA = "application/geo+json"


def network_geojson(state: RegionState, profile: str, digits: int = 5) -> bytes:
    """The profile's roads as one MultiLineString, each two-way road drawn once."""
    graph = state.graphs[profile]
    twins = state.snappers[profile].reverse
    edges = np.arange(graph.n_edges)
    keep = edges[(twins < 0) | (twins > edges)]
    tails = graph.tail()
    lines = []
    lat, lon = np.round(graph.lat, digits), np.round(graph.lon, digits)
    glat, glon = np.round(graph.geom_lat, digits), np.round(graph.geom_lon, digits)
    for e in keep.tolist():
        a, b = int(graph.geom_first[e]), int(graph.geom_first[e + 1])
        t, h = int(tails[e]), int(graph.head[e])
        coords = [[float(lon[t]), float(lat[t])]]
        coords.extend([float(x), float(y)] for x, y in zip(glon[a:b], glat[a:b], strict=True))
        coords.append([float(lon[h]), float(lat[h])])
        lines.append(coords)
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "MultiLineString", "coordinates": lines},
                "properties": {"profile": profile, "edges": len(lines)},
            }
        ],
    }
    return json.dumps(doc, separators=(",", ":")).encode()


@router.get(
    "/network",
    response_model=GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Road network layer",
)
def network(
    profile: Literal["walk", "bike", "car"] = Query("car"),
    state: RegionState = Depends(get_state),
) -> Response:
    """The region's roads of one profile as GeoJSON (coordinates rounded to about 1 m)."""
    need(state, "road", "the road network")
    network_for(state, profile)
    key = f"network:{profile}"
    if key not in state.cache:
        state.cache[key] = network_geojson(state, profile)
    return Response(state.cache[key], media_type=GEOJSON_MEDIA)


@router.get(
    "/transit", response_model=GeoJSON, responses=ERROR_RESPONSES, summary="Transit lines layer"
)
def transit_lines(state: RegionState = Depends(get_state)) -> Response:
    """Each transit line once (its longest stop pattern) and the stops it serves, as GeoJSON."""
    need(state, "transit", "the transit layer")
    from api.services.transit_adapter import lines_geojson

    if "transit" not in state.cache:
        state.cache["transit"] = json.dumps(lines_geojson(state), separators=(",", ":")).encode()
    return Response(state.cache["transit"], media_type=GEOJSON_MEDIA)
