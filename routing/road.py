"""A profile's road network ready for queries: graph, snapper and hierarchy together.

:class:`RoadNetwork` is what adapters (CLI, API, planner, fleet) hold: it
answers coordinate-to-coordinate routes by snapping both points onto edges,
querying the contraction hierarchy with the partial-edge costs as seeds, and
drawing the unpacked path from the first snapped point to the last.
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from routing.arrays import FloatArray, IntArray
from routing.build import road_graphs, wheelchair_graph
from routing.ch import CCHStructure, ContractionHierarchy, cch_structure, customize
from routing.errors import NoRouteError
from routing.geo import haversine_kernel
from routing.graph import PROFILES, RoadGraph
from routing.paths import PathResult, path_polyline
from routing.regions import Region, default_cache_dir
from routing.snap import Snap, Snapper

if TYPE_CHECKING:
    from routing.isochrone import IsochroneEdges
    from routing.live import LiveState, LiveWeights

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
    unknown_access : int or None
        Wheelchair networks only: how many of the route's segments (edges,
        including the snapped ones at both ends) have no accessibility
        information in OSM; ``None`` for other profiles.
    """

    profile: str
    duration_s: float
    distance_m: float
    lats: np.ndarray
    lons: np.ndarray
    edges: np.ndarray
    unknown_access: int | None = None

    def geojson(self) -> dict[str, Any]:
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
                **(
                    {"unknown_access_segments": self.unknown_access}
                    if self.unknown_access is not None
                    else {}
                ),
            },
        }


@dataclass
class LiveQueryStats:
    """How live-state queries were answered (for benchmarks and logs).

    ``customizations`` counts hierarchy customizations for new live weights;
    ``live_queries`` the routes and matrices answered on a customized hierarchy.
    """

    customizations: int = 0
    live_queries: int = 0

    def add(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name`` (statistics only: no lock, rare races are harmless)."""
        setattr(self, name, getattr(self, name) + n)


@dataclass(frozen=True)
class RoadNetwork:
    """Graph, snapper and contraction hierarchy of one profile.

    Attributes
    ----------
    graph, snapper, hierarchy :
        The base graph, its snapper and its hierarchy (a customizable
        contraction hierarchy customized for the base travel times).
    structure : CCHStructure or None
        The metric-independent part of the hierarchy: live weights are
        customized onto it in milliseconds (:meth:`hierarchy_at`).
    access : ndarray of int8 or None
        Wheelchair networks: accessibility evidence per edge
        (:data:`routing.profiles.ACCESS_UNKNOWN` = 0, inferred 1, explicit 2).
    live : LiveState or None
        Closures and traffic to respect (see :mod:`routing.live`); ``None``
        = the static network. Attach one with :meth:`with_live`.
    """

    graph: RoadGraph
    snapper: Snapper
    hierarchy: ContractionHierarchy
    access: np.ndarray | None = None
    structure: CCHStructure | None = None
    live: LiveState | None = None
    stats: LiveQueryStats = field(default_factory=LiveQueryStats, compare=False, repr=False)
    # The latest live customization, shared with every live view (replace() passes it on):
    # a new state close to it (one more closure) is customized from it, not from the base.
    _latest: list[Any] = field(default_factory=list, compare=False, repr=False)

    @property
    def profile(self) -> str:
        """The profile name."""
        return self.graph.profile

    def with_live(self, live: LiveState | None) -> RoadNetwork:
        """The same network answering under ``live`` (shares graph, snapper and hierarchy).

        Repeated calls with the same state return the same object, so every
        holder of this network (API, planner, fleet) attaching one live state
        shares one view of it.
        """
        if live is self.live:
            return self
        views = self.__dict__.get("_live_views")
        if views is None:
            views = {}
            object.__setattr__(self, "_live_views", views)  # a cache, not a field
        hit = views.get(id(live))
        if hit is not None and hit[0]() is live:
            shared: RoadNetwork = hit[1]
            return shared
        view = replace(self, live=live, stats=LiveQueryStats())
        if live is not None:
            views[id(live)] = (weakref.ref(live), view)
            while len(views) > 4:  # states replaced by reloads are not kept alive for long
                del views[next(iter(views))]
        return view

    def live_weights(self, at: float | None = None) -> LiveWeights | None:
        """The live travel times at unix time ``at`` (now), or ``None`` when nothing differs."""
        if self.live is None or self.profile not in self.live.graphs:
            return None
        weights = self.live.weights(self.profile, at=at)
        return weights if weights.changed else None

    def current_graph(self, at: float | None = None) -> RoadGraph:
        """The graph with live travel times (closed roads ``inf``) for searches and isochrones."""
        weights = self.live_weights(at)
        return self.graph if weights is None else weights.graph

    def hierarchy_at(
        self, at: float | None = None
    ) -> tuple[ContractionHierarchy, np.ndarray | None]:
        """The hierarchy exact at ``at`` and the live weights it was customized for.

        Without live changes: the base hierarchy and ``None``. With closures or
        traffic: the structure customized for those weights (once per weight
        state; every holder of the same live state shares it).
        """
        live = self.live_weights(at)
        if live is None:
            return self.hierarchy, None
        return self.customized(live), live.travel_time

    def customized(self, live: LiveWeights) -> ContractionHierarchy:
        """The hierarchy customized for ``live`` (cached on the weights object)."""
        cached: ContractionHierarchy | None = live.__dict__.get("_hierarchy")
        if cached is not None:
            return cached
        if self.structure is None:
            raise RuntimeError(
                f"the {self.profile} network has no customizable hierarchy; load it with "
                "load_road_networks"
            )
        # Only the arcs the change reaches are re-customized, from whichever of the base
        # and the latest hierarchy differs on fewer edges; the live graph view
        # already carries the weights (no copy).
        weight = live.travel_time
        start = self.hierarchy
        for other in list(self._latest):
            if np.count_nonzero(other.graph.travel_time != weight) < live.modified.shape[0]:
                start = other
        hierarchy = customize(self.structure, live.graph, start=start)
        self._latest[:] = [hierarchy]
        object.__setattr__(live, "_hierarchy", hierarchy)  # a cache, not a field
        self.stats.add("customizations")
        return hierarchy

    def snap(self, lat: float, lon: float, *, max_distance_m: float = MAX_SNAP_M) -> Snap:
        """Snap a point onto the nearest edge (raises SnapError beyond the limit)."""
        return self.snapper.snap(lat, lon, max_distance_m=max_distance_m)

    # ------------------------------------------------------------------ routes
    def route(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        *,
        max_snap_m: float = MAX_SNAP_M,
        at: float | None = None,
    ) -> RoadRoute:
        """Fastest route between two (lat, lon) points, respecting the live state.

        Parameters
        ----------
        origin, destination : (lat, lon)
        max_snap_m : float
            Farthest a point may be from a road of the profile.
        at : float, optional
            Unix time whose closures and traffic apply (default: now).

        Raises
        ------
        SnapError
            A point is farther than ``max_snap_m`` from any road of the profile.
        NoRouteError
            The destination cannot be reached from the origin (also when
            closures cut it off).
        """
        a = self.snap(*origin, max_distance_m=max_snap_m)
        b = self.snap(*destination, max_distance_m=max_snap_m)
        return self.route_snapped(a, b, at=at)

    def route_snapped(self, a: Snap, b: Snap, *, at: float | None = None) -> RoadRoute:
        """:meth:`route` between points already snapped (no second snap; same result).

        Raises
        ------
        NoRouteError
            ``b`` cannot be reached from ``a`` (also when closures cut it off).
        """
        origin, destination = (a.lat, a.lon), (b.lat, b.lon)
        hierarchy, w = self.hierarchy_at(at)
        if w is not None:
            self.stats.add("live_queries")
        src, src_cost = _finite_seeds(*a.source_seeds(w))
        dst, dst_cost = _finite_seeds(*b.target_seeds(w))
        direct = a.direct_cost_to(b, w)
        # One search: the path (unpacked only when reachable) and its cost together.
        path = (
            hierarchy.route_or_none(src, src_cost, dst, dst_cost) if src.size and dst.size else None
        )
        via_nodes = path.cost if path is not None else math.inf
        if math.isfinite(direct) and direct <= via_nodes:
            return self._direct_route(a, b, direct)
        if path is None:
            raise self._no_route(origin, destination, closed=w is not None)
        return self._path_route(a, b, path)

    def _no_route(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        *,
        closed: bool = False,
    ) -> NoRouteError:
        why = (
            "closed roads cut it off (see the active closures)"
            if closed
            else "one-way streets or a separate part of the network"
        )
        return NoRouteError(
            f"no {self.profile} route from ({origin[0]:.5f}, {origin[1]:.5f}) to "
            f"({destination[0]:.5f}, {destination[1]:.5f}): the destination cannot be "
            f"reached ({why}); move a point to a main road or try another profile"
        )

    def unknown_segments(self, a: Snap, b: Snap, edges: np.ndarray) -> int | None:
        """Segments without accessibility information on a path (wheelchair networks; else None).

        Counts the path's ``edges`` plus the snapped end edges, a road and its
        reverse twin once (see :attr:`RoadRoute.unknown_access`).
        """
        return self._unknown(a, b, edges)

    def _unknown(self, a: Snap, b: Snap, edges: np.ndarray) -> int | None:
        if self.access is None:
            return None
        used = np.unique(np.concatenate(([a.edge, b.edge], np.asarray(edges, dtype=np.int64))))
        # A road and its reverse twin are one segment on the ground.
        twins = self.snapper.reverse[used]
        canonical = np.unique(np.where((twins >= 0) & (twins < used), twins, used))
        return int((self.access[canonical] == 0).sum())

    def _direct_route(self, a: Snap, b: Snap, cost: float) -> RoadRoute:
        length = float(self.graph.length_m[a.edge]) * abs(b.fraction - a.fraction)
        no_edges = np.zeros(0, dtype=np.int64)
        return RoadRoute(
            self.profile,
            float(cost),
            length,
            np.array([a.lat, b.lat]),
            np.array([a.lon, b.lon]),
            no_edges,
            self._unknown(a, b, no_edges),
        )

    def _path_route(self, a: Snap, b: Snap, path: PathResult) -> RoadRoute:
        graph = self.graph
        lats, lons = path_polyline(graph, path.edges)
        if lats.size == 0:  # both seeds meet in one node
            lats = np.array([graph.lat[path.source]])
            lons = np.array([graph.lon[path.source]])
        # The partial segments at both ends follow the road's shape points.
        head_lat, head_lon = partial_shape(graph, a, toward_head=path.source == a.head)
        tail_lat, tail_lon = partial_shape(graph, b, toward_head=path.target not in b.in_tails)
        lats = np.concatenate((head_lat, lats, tail_lat[::-1]))
        lons = np.concatenate((head_lon, lons, tail_lon[::-1]))
        distance = (
            float(path.length_m) + a.source_offset_m(path.source) + b.target_offset_m(path.target)
        )
        return RoadRoute(
            self.profile,
            float(path.cost),
            distance,
            np.concatenate(([a.lat], lats, [b.lat])),
            np.concatenate(([a.lon], lons, [b.lon])),
            np.asarray(path.edges),
            self._unknown(a, b, np.asarray(path.edges)),
        )

    # ------------------------------------------------------------------ matrices
    def matrix(
        self, sources: ArrayLike, targets: ArrayLike, *, at: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Seconds and metres between node ids, exact under the live state.

        A bucket many-to-many on the hierarchy customized for the live state
        (the base one when nothing differs).

        Returns
        -------
        (seconds, metres) : ndarray of float64, shape (len(sources), len(targets))
            ``inf`` where no route exists.
        """
        from routing.matrix import travel_matrices

        hierarchy, w = self.hierarchy_at(at)
        if w is not None:
            self.stats.add("live_queries")
        return travel_matrices(hierarchy, sources, targets)

    # ------------------------------------------------------------------ isochrones
    def isochrone_edges(
        self, origin: tuple[float, float], budget_s: float, *, at: float | None = None
    ) -> IsochroneEdges:
        """Edges reachable from a point within ``budget_s`` under the live state."""
        from routing.isochrone import isochrone_edges

        graph = self.current_graph(at)
        start = self.snap(*origin)
        nodes, costs = _finite_seeds(*start.source_seeds(graph.travel_time))
        if nodes.size == 0:
            empty = np.zeros(0)
            from routing.isochrone import IsochroneEdges

            return IsochroneEdges(empty.astype(np.int64), empty, empty)
        return isochrone_edges(graph, nodes, costs, budget_s)


def partial_shape(
    graph: RoadGraph, snap: Snap, *, toward_head: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Shape points of the snapped segment between the point and one of its ends.

    Ordered from the snapped point outward, end node excluded: toward the
    segment's head (``toward_head``) or toward its tail.
    """
    return _partial_shape(
        graph.first_out, graph.geom_first, graph.geom_lat, graph.geom_lon, graph.lat, graph.lon,
        snap.edge, snap.fraction * snap.edge_length_m, toward_head,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _partial_shape(
    first_out: IntArray, geom_first: IntArray, geom_lat: FloatArray, geom_lon: FloatArray,
    lat: FloatArray, lon: FloatArray, edge: int, where: float, toward_head: bool,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """:func:`partial_shape` on the arrays: shape points beyond / before ``where`` metres."""
    a = geom_first[edge]
    b = geom_first[edge + 1]
    n = b - a
    out_lat = np.empty(n)
    out_lon = np.empty(n)
    if n == 0:
        return out_lat, out_lon
    tail = np.searchsorted(first_out, edge, side="right") - 1
    prev_lat = lat[tail]
    prev_lon = lon[tail]
    along = 0.0
    k = 0
    for j in range(a, b):
        along += haversine_kernel(prev_lat, prev_lon, geom_lat[j], geom_lon[j])
        prev_lat = geom_lat[j]
        prev_lon = geom_lon[j]
        if (toward_head and along > where) or (not toward_head and along < where):
            out_lat[k] = geom_lat[j]
            out_lon[k] = geom_lon[j]
            k += 1
    if toward_head:
        return out_lat[:k], out_lon[:k]
    return out_lat[:k][::-1].copy(), out_lon[:k][::-1].copy()


def _finite_seeds(nodes: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop seeds behind a closed edge (inf or NaN cost)."""
    keep = np.isfinite(costs)
    return nodes[keep], costs[keep]


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
        structure = cch_structure(graph, cache_dir=cache_dir)
        hierarchy = customize(structure, graph)
        networks[profile] = RoadNetwork(graph, Snapper(graph), hierarchy, structure=structure)
    return networks


def load_wheelchair_network(
    region: Region | str,
    *,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> RoadNetwork:
    """The region's step-free walking network, with per-edge accessibility evidence.

    Routes from it carry :attr:`RoadRoute.unknown_access` (segments without
    accessibility tags). Parameters are as in :func:`load_road_networks`.
    """
    cache_dir = cache_dir or default_cache_dir()
    graph, access = wheelchair_graph(region, data_dir=data_dir, cache_dir=cache_dir)
    structure = cch_structure(graph, cache_dir=cache_dir)
    return RoadNetwork(
        graph,
        Snapper(graph),
        customize(structure, graph),
        access=np.asarray(access),
        structure=structure,
    )
