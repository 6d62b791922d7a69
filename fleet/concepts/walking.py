"""Walks to and from the vehicle, and virtual stops that keep every resident within a walk.

Two walk models answer the same three questions (:class:`WalkModel`): the
walks between every point and every stop, between pairs of points, and which
points lie within a given walk of each of a set of points.

- :class:`RoutedWalks`, whenever the comparison has a map: shortest walks in
  metres on the region's walk graph (walkers ignore oneway, so every walk is
  the same both ways). "Which points lie within ``limit_m``" is a bounded
  Dijkstra (``scipy.sparse.csgraph.dijkstra`` with ``limit``) on the walk graph
  restricted to the zone grown by ``radius_m``; walks between given points are
  the walk graph's contraction-hierarchy matrix
  (:func:`routing.matrix.travel_matrices`; the walk profile has one speed, so
  the fastest walk is the shortest). A point is placed on its nearest walk
  node and reaches it in a straight line; the demand model's riders start and
  end *on* walk nodes, so theirs is 0.
- :class:`CrowFlyWalks`, the fallback when there is no map (synthetic planes
  in tests): crow-fly metres times a circuity factor (street networks make a
  walk about 1.2-1.4 times the crow-fly distance in European cities; Boeing
  2017 finds ~1.1-1.3 for street-network circuity).

Virtual stops are placed on the shuttle network by greedy set cover with the
walks of the model in use, and riders are assigned to the stop with the
shortest walk of the same model, so the promise "every covered resident is
within ``walk_m`` of a stop, walking" holds exactly, on the street network
when walks are routed. Resident locations are the demand model's walk-graph
nodes inside the area (where requests start and end). Walk nodes with no
shuttle street within ``walk_m`` (footpaths through parks and cemeteries)
cannot be covered; up to ``max_uncovered_share`` of them are left out with a
warning, and a rider starting there is not served.

Cycling is routed on the bike network when there is a map
(:meth:`fleet.concepts.backend.ConceptContext.bike_seconds`); without one it is
:data:`BIKE_MPS` on crow-fly x circuity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from routing.errors import DataError
from routing.geo import LocalPlane, haversine_m

log = logging.getLogger(__name__)

#: Default walking speed, m/s (4.7 km/h; HBS/Weidmann 1993 ~1.34 m/s for adults).
WALK_MPS = 1.3
#: Default cycling speed, m/s (15 km/h, typical urban everyday cycling).
BIKE_MPS = 15 / 3.6
#: Largest dense block of a bounded search (sources x subgraph nodes), to bound memory.
_BLOCK_CELLS = 4_000_000


def walk_metres(lat1, lon1, lat2, lon2, circuity: float) -> np.ndarray:
    """Walking distance estimate without a map: crow-fly metres times ``circuity``."""
    return haversine_m(lat1, lon1, lat2, lon2) * circuity


class WalkModel(Protocol):
    """Walk metres between points (see the module docstring for the two models)."""

    @property
    def routed(self) -> bool:
        """Whether walks are routed on the street network (else crow-fly x circuity)."""
        ...

    @property
    def description(self) -> str:
        """How walks are measured, for summaries."""
        ...

    def matrix(self, lat, lon, to_lat, to_lon) -> np.ndarray:
        """Walk metres from every point to every target, shape (points, targets)."""
        ...

    def pairs(self, lat, lon, to_lat, to_lon) -> np.ndarray:
        """Walk metres from each point to its own target, shape (points,)."""
        ...

    def within(self, lat, lon, to_lat, to_lon, limit_m: float) -> list[np.ndarray]:
        """Per point, the indices of the targets within a walk of ``limit_m``."""
        ...


def _points(lat, lon) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lat, dtype=float).ravel(), np.asarray(lon, dtype=float).ravel()


@dataclass(frozen=True)
class CrowFlyWalks:
    """Walks as crow-fly metres times ``circuity`` (the model when there is no map)."""

    circuity: float = 1.3
    routed: bool = field(default=False, init=False)

    @property
    def description(self) -> str:
        """How walks are measured, for summaries."""
        return f"crow-fly x {self.circuity:g} circuity (no map)"

    def matrix(self, lat, lon, to_lat, to_lon) -> np.ndarray:
        """Walk metres from every point to every target, shape (points, targets)."""
        lat, lon = _points(lat, lon)
        to_lat, to_lon = _points(to_lat, to_lon)
        return walk_metres(lat[:, None], lon[:, None], to_lat[None], to_lon[None], self.circuity)

    def pairs(self, lat, lon, to_lat, to_lon) -> np.ndarray:
        """Walk metres from each point to its own target, shape (points,)."""
        return walk_metres(*_points(lat, lon), *_points(to_lat, to_lon), self.circuity)

    def within(self, lat, lon, to_lat, to_lon, limit_m: float) -> list[np.ndarray]:
        """Per point, the indices of the targets within a walk of ``limit_m``."""
        lat, lon = _points(lat, lon)
        to_lat, to_lon = _points(to_lat, to_lon)
        if lat.size == 0 or to_lat.size == 0:
            return [np.zeros(0, dtype=np.int64) for _ in range(lat.size)]
        plane = LocalPlane(float(to_lat.mean()))
        tree = cKDTree(np.column_stack(plane.to_xy(to_lat, to_lon)))
        # the plane is a prefilter (1 % and 1 m of slack); the haversine walk decides
        near = tree.query_ball_point(
            np.column_stack(plane.to_xy(lat, lon)), r=limit_m / self.circuity * 1.01 + 1.0
        )
        out = []
        for i, idx in enumerate(near):
            idx = np.asarray(idx, dtype=np.int64)
            walk = walk_metres(lat[i], lon[i], to_lat[idx], to_lon[idx], self.circuity)
            out.append(np.sort(idx[walk <= limit_m]))
        return out


@dataclass(frozen=True, eq=False)
class RoutedWalks:
    """Shortest walks on the region's walk graph (see the module docstring).

    Build with :meth:`build`. Bounded searches (:meth:`within`) run on the
    walk graph restricted to the nodes within ``radius_m`` of the zone: a walk
    of at most ``radius_m`` from a point in the zone never leaves it, so they
    are exact for points in the zone; elsewhere the restriction can only make
    a walk look longer, never shorter, so a walk promise stays kept.

    Attributes
    ----------
    graph : routing.graph.RoadGraph
        The walk graph (node-based, one speed).
    hierarchy : routing.ch.ContractionHierarchy
        Its contraction hierarchy (walks between given points).
    radius_m : float
        How far beyond the zone the bounded searches see.
    """

    graph: Any = field(repr=False)
    hierarchy: Any = field(repr=False)
    radius_m: float
    _snap_node: np.ndarray = field(repr=False)
    _tree: cKDTree = field(repr=False)
    _plane: LocalPlane = field(repr=False)
    _sub_of: np.ndarray = field(repr=False)  # walk node -> index in the zone subgraph, or -1
    _sub: csr_matrix = field(repr=False)
    routed: bool = field(default=True, init=False)

    @classmethod
    def build(cls, graph, hierarchy, zone, *, radius_m: float) -> RoutedWalks:
        """Walks on ``graph`` around ``zone`` (shapely geometry in lon, lat).

        Points are placed on the graph's largest connected part (where the
        demand model's riders are).
        """
        n = graph.n_nodes
        tail = graph.tail().astype(np.int64)
        head = np.asarray(graph.head, dtype=np.int64)
        # no zero weights: scipy's sparse graphs could read an explicit zero as "no edge"
        length = np.maximum(np.asarray(graph.length_m, dtype=float), 1e-9)
        full = csr_matrix((length, (tail, head)), shape=(n, n))
        _, labels = connected_components(full, directed=False)
        main = labels == np.bincount(labels).argmax()
        plane = LocalPlane(float(np.mean(graph.lat)))
        nodes = np.flatnonzero(main)
        x, y = plane.to_xy(graph.lat[nodes], graph.lon[nodes])
        tree = cKDTree(np.column_stack((x, y)))
        import shapely

        zone_xy = shapely.transform(zone, lambda c: np.column_stack(plane.to_xy(c[:, 1], c[:, 0])))
        near = shapely.dwithin(zone_xy, shapely.points(x, y), radius_m)
        kept = nodes[near]
        sub_of = np.full(n, -1, dtype=np.int64)
        sub_of[kept] = np.arange(kept.size)
        edge = (sub_of[tail] >= 0) & (sub_of[head] >= 0)
        # parallel edges: csr_matrix would add them up, so keep the shortest of each pair
        order = np.lexsort((length[edge], head[edge], tail[edge]))
        st, sh, sl = sub_of[tail[edge]][order], sub_of[head[edge]][order], length[edge][order]
        first = np.ones(st.size, dtype=bool)
        first[1:] = (st[1:] != st[:-1]) | (sh[1:] != sh[:-1])
        sub = csr_matrix((sl[first], (st[first], sh[first])), shape=(kept.size, kept.size))
        log.info(
            "routed walks: %d of %d walk nodes within %.0f m of the zone",
            kept.size,
            n,
            radius_m,
        )
        return cls(graph, hierarchy, float(radius_m), nodes, tree, plane, sub_of, sub)

    @property
    def description(self) -> str:
        """How walks are measured, for summaries."""
        return "routed on the walk network (shortest walk)"

    def snap(self, lat, lon) -> tuple[np.ndarray, np.ndarray]:
        """Nearest walk node of each point and the straight metres to it."""
        lat, lon = _points(lat, lon)
        if lat.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        _, idx = self._tree.query(np.column_stack(self._plane.to_xy(lat, lon)))
        node = self._snap_node[idx]
        return node, haversine_m(lat, lon, self.graph.lat[node], self.graph.lon[node])

    def _node_metres(self, a: np.ndarray, b: np.ndarray):
        """Walk metres between the distinct nodes of ``a`` and ``b``, and where each one is."""
        from routing.matrix import travel_matrices

        ua, ia = np.unique(a, return_inverse=True)
        ub, ib = np.unique(b, return_inverse=True)
        return travel_matrices(self.hierarchy, ua, ub)[1], ia.ravel(), ib.ravel()

    def matrix(self, lat, lon, to_lat, to_lon) -> np.ndarray:
        """Walk metres from every point to every target, shape (points, targets)."""
        a, off_a = self.snap(lat, lon)
        b, off_b = self.snap(to_lat, to_lon)
        if a.size == 0 or b.size == 0:
            return np.zeros((a.size, b.size))
        metres, ia, ib = self._node_metres(a, b)
        return off_a[:, None] + metres[np.ix_(ia, ib)] + off_b[None]

    def pairs(self, lat, lon, to_lat, to_lon) -> np.ndarray:
        """Walk metres from each point to its own target, shape (points,)."""
        a, off_a = self.snap(lat, lon)
        b, off_b = self.snap(to_lat, to_lon)
        if a.size == 0:
            return np.zeros(0)
        metres, ia, ib = self._node_metres(a, b)
        return off_a + metres[ia, ib] + off_b

    def within(self, lat, lon, to_lat, to_lon, limit_m: float) -> list[np.ndarray]:
        """Per point, the indices of the targets within a walk of ``limit_m``.

        Raises
        ------
        ValueError
            ``limit_m`` is beyond ``radius_m`` (build the model with a larger radius).
        """
        if limit_m > self.radius_m:
            raise ValueError(f"limit_m {limit_m:g} exceeds the model's radius_m {self.radius_m:g}")
        a, off_a = self.snap(lat, lon)
        b, off_b = self.snap(to_lat, to_lon)
        out = [np.zeros(0, dtype=np.int64) for _ in range(a.size)]
        sa, sb = self._sub_of[a], self._sub_of[b]
        targets = np.flatnonzero(sb >= 0)
        col, t_off = sb[targets], off_b[targets]
        sources = np.unique(sa[sa >= 0])
        block = max(1, _BLOCK_CELLS // max(self._sub.shape[0], 1))
        for k in range(0, sources.size, block):
            chunk = sources[k : k + block]
            dist = dijkstra(self._sub, directed=False, indices=chunk, limit=limit_m)
            row_of = {int(v): r for r, v in enumerate(chunk)}
            for i in np.flatnonzero(np.isin(sa, chunk)):
                walk = off_a[i] + dist[row_of[int(sa[i])], col] + t_off
                out[i] = targets[walk <= limit_m]
        return out


@dataclass(frozen=True)
class StopSet:
    """Boarding points on the shuttle network.

    Attributes
    ----------
    lat, lon : ndarray
        Stop coordinates (on the shuttle network).
    loc : ndarray of int64
        Travel-model location of each stop.
    walk_m : float
        The promised longest walk.
    walks : WalkModel
        How walks are measured (routed, or crow-fly x circuity without a map).
    """

    lat: np.ndarray
    lon: np.ndarray
    loc: np.ndarray
    walk_m: float
    walks: WalkModel

    @property
    def n(self) -> int:
        """Number of stops."""
        return int(self.lat.size)

    def nearest(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of the stop with the shortest walk from each point, and that walk (metres).

        Ties go to the lowest stop index.
        """
        walk = self.walks.matrix(lat, lon, self.lat, self.lon)
        idx = np.argmin(walk, axis=1).astype(np.int64)
        return idx, walk[np.arange(idx.size), idx]


def virtual_stops(
    travel,
    resident_lat: np.ndarray,
    resident_lon: np.ndarray,
    *,
    walk_m: float,
    walks: WalkModel,
    max_uncovered_share: float = 0.05,
    area=None,
) -> StopSet:
    """Stops on ``travel``'s network so that every resident point is within ``walk_m``.

    Candidates are the reachable network locations within ``walk_m`` crow-fly
    of a resident point (no walk is shorter than the straight line; a stop is
    on a street a shuttle can reach); greedy set cover on the walks of
    ``walks`` picks the candidate covering the most uncovered points until all
    are covered (ties: lowest index, so the result is deterministic).

    Raises
    ------
    DataError
        No resident points (an empty zone), or too many points with no street
        within ``walk_m`` (the message names one of them and the fix).
    """
    lat = np.asarray(resident_lat, dtype=float)
    lon = np.asarray(resident_lon, dtype=float)
    if lat.size == 0:
        raise DataError(
            "[area]: the zone holds no resident locations; draw the polygon over a "
            "residential district"
        )
    # candidates: every reachable network location near a resident point
    usable = getattr(travel, "usable", None)
    nodes = np.asarray(usable if usable is not None else np.unique(travel.locate_many(lat, lon)))
    nodes = nodes[nodes >= 0]
    if nodes.size == 0:
        raise DataError("[area]: no street of the shuttle network lies in the zone")
    n_lat = np.array([travel.coords(int(c))[0] for c in nodes]) if nodes.size < 5000 else None
    if n_lat is None:  # a road travel model: read the coordinate arrays directly
        n_lat, n_lon = travel.graph.lat[nodes], travel.graph.lon[nodes]
    else:
        n_lon = np.array([travel.coords(int(c))[1] for c in nodes])
    plane = LocalPlane(float(lat.mean()))
    near = cKDTree(np.column_stack(plane.to_xy(lat, lon))).query(
        np.column_stack(plane.to_xy(n_lat, n_lon)), distance_upper_bound=walk_m * 1.01 + 1.0
    )[0]
    keep = np.isfinite(near)
    if area is not None:  # stops only inside the zone (shapely geometry in lon, lat)
        from shapely import contains_xy

        keep &= contains_xy(area, n_lon, n_lat)
    if not keep.any():
        raise DataError("[area]: no street of the shuttle network lies in the zone")
    cand = nodes[keep].astype(np.int64)
    c_lat, c_lon = n_lat[keep], n_lon[keep]
    # the walk model's own answer is the promise (a hair inside, so float noise never breaks it)
    sets = walks.within(c_lat, c_lon, lat, lon, walk_m * (1 - 1e-9))
    reachable = np.zeros(lat.size, dtype=bool)
    for points in sets:
        reachable[points] = True
    uncovered = int((~reachable).sum())
    if uncovered > max_uncovered_share * lat.size:
        bad = int(np.flatnonzero(~reachable)[0])
        raise DataError(
            f"[stops] walk_m = {walk_m:g}: {uncovered} of {lat.size} resident points (e.g. "
            f"({lat[bad]:.5f}, {lon[bad]:.5f})) have no shuttle street within that walk, more "
            f"than max_uncovered_share = {max_uncovered_share:g} allows; raise walk_m, raise "
            f"[stops] max_uncovered_share or shrink the zone"
        )
    if uncovered:
        # footpaths in parks and cemeteries: no home there, no street to put a stop on
        log.warning(
            "virtual stops: %d of %d walk locations have no shuttle street within a %.0f m "
            "walk (parks, footpaths); they are left out of the walking promise",
            uncovered,
            lat.size,
            walk_m,
        )
    covered = ~reachable
    chosen: list[int] = []
    gain = np.array([s.size for s in sets])
    while not covered.all():
        c = int(np.argmax(gain))
        chosen.append(c)
        covered[sets[c]] = True
        gain = np.array([int((~covered[s]).sum()) if s.size else 0 for s in sets])
    chosen_arr = np.asarray(sorted(chosen), dtype=np.int64)
    log.info(
        "virtual stops: %d stops keep %d resident points within %.0f m, walks %s",
        chosen_arr.size,
        int(reachable.sum()),
        walk_m,
        walks.description,
    )
    return StopSet(
        lat=c_lat[chosen_arr],
        lon=c_lon[chosen_arr],
        loc=cand[chosen_arr].astype(np.int64),
        walk_m=float(walk_m),
        walks=walks,
    )
