"""Road routing for the API: snap the two points, ask the hierarchy, draw the path.

Thin glue over :mod:`routing.snap`, :mod:`routing.ch` (or :mod:`routing.search`
when no hierarchy is loaded) and :mod:`routing.paths`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from api.state import RegionState
from api.validation import check_in_region
from routing.errors import NoRouteError, RequestError
from routing.geo import haversine_m

#: Farthest a query point may be from a road of the profile.
MAX_SNAP_M = 500.0


@dataclass(frozen=True)
class RoadRoute:
    """A fastest road path between two points."""

    profile: str
    duration_s: float
    distance_m: float
    lats: np.ndarray
    lons: np.ndarray


def graph_for(state: RegionState, profile: str) -> Any:
    """Return the loaded graph of ``profile`` or a 4xx naming the loaded ones."""
    if profile not in state.graphs:
        have = ", ".join(state.graphs) or "none"
        raise RequestError(f"profile {profile!r} is not loaded on this server; use one of: {have}")
    return state.graphs[profile]


def snap(state: RegionState, profile: str, lat: float, lon: float, *, name: str) -> Any:
    """Snap a point to the profile's graph after checking it lies in the region."""
    check_in_region(state, lat, lon, name=name)
    graph_for(state, profile)
    return state.snappers[profile].snap(lat, lon, max_distance_m=MAX_SNAP_M)


def route(
    state: RegionState, profile: str, origin: tuple[float, float], destination: tuple[float, float]
) -> RoadRoute:
    """Fastest ``profile`` route between two (lat, lon) points.

    Raises
    ------
    RequestError, SnapError
        A point is outside the region or too far from any road.
    NoRouteError
        The destination is not reachable from the origin.
    """
    graph = graph_for(state, profile)
    a = snap(state, profile, *origin, name="from")
    b = snap(state, profile, *destination, name="to")
    direct = a.direct_cost_to(b)
    src, src_cost = a.source_seeds()
    dst, dst_cost = b.target_seeds()
    hierarchy = state.hierarchies.get(profile)
    if hierarchy is not None:
        via_nodes = hierarchy.query(src, src_cost, dst, dst_cost)
    else:
        from routing.search import shortest_path_cost

        via_nodes = shortest_path_cost(graph, src, src_cost, dst, dst_cost)
    if math.isfinite(direct) and direct <= via_nodes:
        length = float(graph.length_m[a.edge]) * abs(b.fraction - a.fraction)
        lats = np.array([a.lat, b.lat])
        lons = np.array([a.lon, b.lon])
        return RoadRoute(profile, float(direct), length, lats, lons)
    if not math.isfinite(via_nodes):
        raise NoRouteError(
            f"no {profile} route from ({origin[0]:.5f}, {origin[1]:.5f}) to "
            f"({destination[0]:.5f}, {destination[1]:.5f}): the destination is not reachable "
            "(one-way streets or a separate part of the network); move a point to a main road"
        )
    if hierarchy is not None:
        path = hierarchy.route(src, src_cost, dst, dst_cost)
    else:
        from routing.search import shortest_path

        path = shortest_path(graph, src, src_cost, dst, dst_cost)
    from routing.paths import path_polyline

    lats, lons = path_polyline(graph, path.edges)
    if lats.size == 0:  # both seeds on one node
        lats = np.array([graph.lat[path.source]])
        lons = np.array([graph.lon[path.source]])
    lats = np.concatenate(([a.lat], lats, [b.lat]))
    lons = np.concatenate(([a.lon], lons, [b.lon]))
    # Partial edges at both ends: their share of the edge length.
    start_len = _seed_share(graph, a, path.source, start=True)
    end_len = _seed_share(graph, b, path.target, start=False)
    distance = float(path.length_m) + start_len + end_len
    return RoadRoute(profile, float(path.cost), distance, lats, lons)


def _seed_share(graph: Any, s: Any, node: int, *, start: bool) -> float:
    """Metres between a snapped point and the seed node its path uses."""
    length = float(graph.length_m[s.edge])
    if start:
        return (1.0 - s.fraction) * length if node == s.head else s.fraction * length
    return s.fraction * length if node == s.tail else (1.0 - s.fraction) * length


def straight_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (lat, lon) points in metres."""
    return float(haversine_m(a[0], a[1], b[0], b[1]))
