"""A profile's road network ready for queries: graph, snapper and hierarchy together.

:class:`RoadNetwork` is what adapters (CLI, API, planner, fleet) hold: it
answers coordinate-to-coordinate routes by snapping both points onto edges,
querying the contraction hierarchy with the partial-edge costs as seeds, and
drawing the unpacked path from the first snapped point to the last.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.build import road_graphs
from routing.ch import ContractionHierarchy, contraction_hierarchy
from routing.errors import NoRouteError
from routing.graph import PROFILES, RoadGraph
from routing.paths import path_polyline
from routing.regions import Region, default_cache_dir
from routing.snap import Snap, Snapper

log = logging.getLogger(__name__)

#: Farthest a query point may lie from a road of the profile.
MAX_SNAP_M = 500.0


@dataclass(frozen=True)
class RoadRoute:
    """A fastest road path between two points.

    Attributes
    ----------
    profile : str
        The profile it was computed for.
    duration_s : float
        Travel time in seconds, partial edges at both ends included.
    distance_m : float
        Length in metres along the path.
    lats, lons : ndarray
        The polyline from the snapped origin to the snapped destination.
    edges : ndarray of int
        Graph edges used, in order (empty when both points lie on one edge).
    """

    profile: str
    duration_s: float
    distance_m: float
    lats: np.ndarray
    lons: np.ndarray
    edges: np.ndarray

    def geojson(self) -> dict:
        """The route as a GeoJSON Feature (LineString in lon, lat order)."""
        return {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": [
                    [round(float(x), 6), round(float(y), 6)]
                    for y, x in zip(self.lats, self.lons, strict=True)
                ],
            },
            "properties": {
                "profile": self.profile,
                "duration_s": round(self.duration_s, 1),
                "distance_m": round(self.distance_m, 1),
            },
        }


@dataclass(frozen=True)
class RoadNetwork:
    """Graph, snapper and contraction hierarchy of one profile."""

    graph: RoadGraph
    snapper: Snapper
    hierarchy: ContractionHierarchy

    @property
    def profile(self) -> str:
        """The profile name."""
        return self.graph.profile

    def snap(self, lat: float, lon: float, *, max_distance_m: float = MAX_SNAP_M) -> Snap:
        """Snap a point onto the nearest edge (raises SnapError beyond the limit)."""
        return self.snapper.snap(lat, lon, max_distance_m=max_distance_m)

    def route(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        *,
        max_snap_m: float = MAX_SNAP_M,
    ) -> RoadRoute:
        """Fastest route between two (lat, lon) points.

        Raises
        ------
        SnapError
            A point is farther than ``max_snap_m`` from any road of the profile.
        NoRouteError
            The destination cannot be reached from the origin.
        """
        graph = self.graph
        a = self.snap(*origin, max_distance_m=max_snap_m)
        b = self.snap(*destination, max_distance_m=max_snap_m)
        src, src_cost = a.source_seeds()
        dst, dst_cost = b.target_seeds()
        via_nodes = self.hierarchy.query(src, src_cost, dst, dst_cost)
        direct = a.direct_cost_to(b)
        if math.isfinite(direct) and direct <= via_nodes:
            length = float(graph.length_m[a.edge]) * abs(b.fraction - a.fraction)
            no_edges = np.zeros(0, dtype=np.int64)
            return RoadRoute(
                self.profile,
                float(direct),
                length,
                np.array([a.lat, b.lat]),
                np.array([a.lon, b.lon]),
                no_edges,
            )
        if not math.isfinite(via_nodes):
            raise NoRouteError(
                f"no {self.profile} route from ({origin[0]:.5f}, {origin[1]:.5f}) to "
                f"({destination[0]:.5f}, {destination[1]:.5f}): the destination cannot be "
                "reached (one-way streets or a separate part of the network); move a point "
                "to a main road or try another profile"
            )
        path = self.hierarchy.route(src, src_cost, dst, dst_cost)
        lats, lons = path_polyline(graph, path.edges)
        if lats.size == 0:  # both seeds meet in one node
            lats = np.array([graph.lat[path.source]])
            lons = np.array([graph.lon[path.source]])
        distance = (
            float(path.length_m)
            + _seed_length(graph, a, path.source, at_start=True)
            + _seed_length(graph, b, path.target, at_start=False)
        )
        return RoadRoute(
            self.profile,
            float(path.cost),
            distance,
            np.concatenate(([a.lat], lats, [b.lat])),
            np.concatenate(([a.lon], lons, [b.lon])),
            np.asarray(path.edges),
        )


def _seed_length(graph: RoadGraph, snap: Snap, node: int, *, at_start: bool) -> float:
    """Metres between a snapped point and the node its path leaves from or arrives at."""
    length = float(graph.length_m[snap.edge])
    if at_start:
        return (1.0 - snap.fraction) * length if node == snap.head else snap.fraction * length
    return snap.fraction * length if node == snap.tail else (1.0 - snap.fraction) * length


def load_road_networks(
    region: Region | str,
    profiles: tuple[str, ...] = PROFILES,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> dict[str, RoadNetwork]:
    """Build or load from cache the road networks (graph, snapper, CH) of a region.

    Parameters
    ----------
    region : Region or str
        The region or its name.
    profiles : tuple of str
        Which profiles to load.
    data_dir, cache_dir : Path, optional
        Where the sources and the build cache live (defaults from the environment).
    """
    cache_dir = cache_dir or default_cache_dir()
    graphs = road_graphs(region, profiles, data_dir=data_dir, cache_dir=cache_dir)
    networks = {}
    for profile in profiles:
        graph = graphs[profile]
        hierarchy = contraction_hierarchy(graph, cache_dir=cache_dir)
        networks[profile] = RoadNetwork(graph, Snapper(graph), hierarchy)
    return networks
