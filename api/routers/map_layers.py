"""``/map``: GeoJSON layers for the map page (roads, transit lines, shuttles, free-floating).

The map page has no tile server: it draws these layers. The road network and
transit lines never change while the process runs, so each is rendered once
and kept as bytes; the shuttle layer is the dispatcher's current view, the
free-floating layers the vehicle store's current snapshot.
"""

from __future__ import annotations

import json
import math
from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import get_state, need, network_for, require
from api.schemas import ERROR_RESPONSES, GeoJSON
from api.services.transit_adapter import lines_geojson
from api.state import RegionState
from routing.geo import M_PER_DEG_LAT
from routing.road import RoadNetwork

router = APIRouter(prefix="/map", tags=["map"])

GEOJSON_MEDIA = "application/geo+json"


class GeoJSONResponse(Response):
    """GeoJSON bytes served (and documented) as ``application/geo+json`` (RFC 7946)."""

    media_type = GEOJSON_MEDIA


#: Metres per degree of latitude (for the coarse shuttle grid).
_M_PER_DEG = M_PER_DEG_LAT


def coarsen(lat: float, lon: float, cell_m: float) -> tuple[float, float]:
    """The centre of the ``cell_m`` grid cell holding (lat, lon).

    A square grid of about ``cell_m`` metres (longitude steps widened by the
    latitude's cosine): the public shuttle layer shows a vehicle's cell, never
    the point where it stands, which can be a passenger's front door.
    """
    step_lat = cell_m / _M_PER_DEG
    centre_lat = (math.floor(lat / step_lat) + 0.5) * step_lat
    # The band's own latitude sets its longitude step: one step for every point in the band.
    step_lon = cell_m / (_M_PER_DEG * max(math.cos(math.radians(centre_lat)), 0.01))
    return round(centre_lat, 5), round((math.floor(lon / step_lon) + 0.5) * step_lon, 5)


def network_geojson(network: RoadNetwork, digits: int = 5) -> bytes:
    """The network's roads as one MultiLineString, each two-way road drawn once.

    Parameters
    ----------
    network : RoadNetwork
        The profile's network (its base graph: closures are a layer of their own).
    digits : int
        Decimals kept of each coordinate (5: about 1 m).
    """
    graph = network.graph
    profile = network.profile
    keep = network.snapper.segments
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
    response_class=GeoJSONResponse,
    responses=ERROR_RESPONSES,
    summary="Road network layer",
)
def network(
    profile: Literal["walk", "bike", "car"] = Query("car"),
    state: RegionState = Depends(get_state),
) -> Response:
    """The region's roads of one profile as GeoJSON (coordinates rounded to about 1 m)."""
    need(state, "road", "the road network")
    found = network_for(state, profile)
    key = f"network:{profile}"
    if key not in state.cache:
        state.cache[key] = network_geojson(found)
    return GeoJSONResponse(state.cache[key])


@router.get(
    "/transit",
    response_model=GeoJSON,
    response_class=GeoJSONResponse,
    responses=ERROR_RESPONSES,
    summary="Transit lines layer",
)
def transit_lines(state: RegionState = Depends(get_state)) -> Response:
    """Each transit line once (its longest stop pattern) and the stops it serves, as GeoJSON."""
    tt = require(state, "transit", "the transit layer", state.transit).timetable
    if "transit" not in state.cache:
        state.cache["transit"] = json.dumps(lines_geojson(tt), separators=(",", ":")).encode()
    return GeoJSONResponse(state.cache["transit"])


@router.get(
    "/shuttles",
    response_model=GeoJSON,
    response_class=GeoJSONResponse,
    responses=ERROR_RESPONSES,
    summary="Shuttle positions",
)
def shuttles(state: RegionState = Depends(get_state)) -> Response:
    """Roughly where each shuttle is, as GeoJSON points (public).

    A vehicle's position is coarsened to the centre of its grid cell
    (``ELSTER_MAP_SHUTTLE_CELL_M``, default 1 km): a vehicle serving a booking
    stands at its pickup or drop-off point, which can be a passenger's door.
    Mode and free seats only: no passenger, booking or stop data. Operators get
    exact positions and plans from ``/fleet/vehicles``.
    """
    from api.errors import UnavailableError
    from api.json import dumps
    from api.services.geojson import collection, feature, point
    from api.services.shuttle import NOT_AVAILABLE

    if state.dispatcher is None:
        raise UnavailableError(NOT_AVAILABLE, fix="this build serves no shuttle fleet")
    cell_m = float(state.settings.map_shuttle_cell_m)
    features = []
    for v in state.shuttle.vehicles():
        if v.get("lat") is None or v.get("lon") is None:
            continue
        capacity = v.get("capacity")
        onboard = v.get("onboard") or 0
        features.append(
            feature(
                point(*coarsen(float(v["lat"]), float(v["lon"]), cell_m)),
                {
                    "id": v["id"],
                    "mode": v.get("mode", "unknown"),
                    "capacity": capacity,
                    "freeSeats": None if capacity is None else max(int(capacity) - onboard, 0),
                    "precisionM": cell_m,
                },
            )
        )
    return GeoJSONResponse(dumps(collection(features)))


@router.get(
    "/vehicles",
    response_model=GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Transit vehicle positions",
)
def transit_vehicles(state: RegionState = Depends(get_state)) -> Response:
    """Transit vehicles from the region's GTFS-RT VehiclePositions feeds, as GeoJSON points.

    Empty when no such feed is configured or its data is older than its ``max_age_s``.
    """
    from api.json import dumps
    from api.services.geojson import collection, feature, point

    snapshot = state.realtime.current() if state.realtime is not None else None
    vehicles = snapshot.vehicles if snapshot is not None else ()
    features = [feature(point(v.lat, v.lon), v.properties()) for v in vehicles]
    return GeoJSONResponse(dumps(collection(features)))


@router.get(
    "/free-floating",
    response_model=GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Free-floating vehicles",
)
def free_floating_vehicles(state: RegionState = Depends(get_state)) -> Response:
    """Rentable free-floating e-scooters and bikes of fresh GBFS feeds, as GeoJSON points.

    Each point says its system, vehicle type, form factor and remaining range.
    A region without free-floating feeds answers an empty collection.
    """
    from api.json import dumps
    from routing.stations.geojson import vehicles_to_geojson

    vehicles = require(state, "vehicles", "free-floating vehicles", state.vehicles)
    return GeoJSONResponse(dumps(vehicles_to_geojson(vehicles.view())))


@router.get(
    "/geofencing",
    response_model=GeoJSON,
    responses=ERROR_RESPONSES,
    summary="Free-floating geofencing zones",
)
def geofencing(state: RegionState = Depends(get_state)) -> Response:
    """Geofencing zones of the free-floating systems (no riding, no parking, speed limits)."""
    from api.json import dumps
    from routing.stations.geojson import zones_to_geojson

    vehicles = require(state, "vehicles", "free-floating vehicles", state.vehicles)
    return GeoJSONResponse(dumps(zones_to_geojson(vehicles.view())))
