"""Snap coordinates onto a road graph: the nearest point on an edge, and search seeds.

A :class:`Snapper` is built once per graph. It files every straight piece of
every edge's polyline under each cell of a uniform grid (in a local metric
plane) that its bounding box touches; a query projects onto the pieces of the
cells ring by ring around it and stops once no cell further out can hold a
closer piece, so the nearest segment is found exactly (ties: the lowest
segment id), in one small compiled kernel. Two-way roads are indexed once
(an edge and its reverse twin share the geometry); a :class:`Snap` records both
directions, and gives the seeds a shortest-path search starts from or ends at.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from routing.arrays import FloatArray, Int64Array
from routing.errors import SnapError
from routing.geo import M_PER_DEG_LAT, LocalPlane, haversine_m, haversine_scalar_m, valid_latlon
from routing.graph import RoadGraph

#: Side of a grid cell of the snapping index, metres (index size vs. query work).
GRID_CELL_M = 50.0
#: Most cells of a snapping grid (the cell side doubles until the grid fits).
MAX_GRID_CELLS = 4_000_000


@dataclass(frozen=True, eq=False)
class Snap:
    """Where a coordinate lies on the road graph.

    In a turn-expanded graph (:mod:`routing.turns`) several edges drive the
    same road segment (one per turn onto it); ``edge`` is one of them and
    ``in_arcs`` lists them all, so a search may reach the point by any turn.
    In a node-based graph ``in_arcs`` is just ``[edge]``.

    Attributes
    ----------
    query_lat, query_lon : float
        The coordinate asked for.
    lat, lon : float
        The closest point on the road (on ``edge``'s polyline).
    distance_m : float
        Haversine distance from the query to that point.
    edge : int
        The edge the point lies on.
    fraction : float
        Position along ``edge`` as a fraction of its length (0 = tail, 1 = head).
    reverse_edge : int
        The edge running the other way along the same road, or -1 (one-way road).
    tail, head : int
        End nodes of ``edge``.
    edge_time, reverse_time : float
        Seconds to drive the segment of ``edge`` and of ``reverse_edge`` (0 if
        none), turn costs excluded.
    edge_length_m : float
        Length of the segment.
    in_arcs, reverse_in_arcs : ndarray of int64
        Every edge driving the segment of ``edge`` / of ``reverse_edge``.
    in_tails, reverse_in_tails : ndarray of int32
        Their tail nodes.
    in_turn, reverse_in_turn : ndarray of float64
        Their turn costs (seconds of their travel time spent turning).
    """

    query_lat: float
    query_lon: float
    lat: float
    lon: float
    distance_m: float
    edge: int
    fraction: float
    reverse_edge: int
    tail: int
    head: int
    edge_time: float
    reverse_time: float
    edge_length_m: float = 0.0
    in_arcs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    in_tails: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    in_turn: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reverse_in_arcs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reverse_in_tails: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    reverse_in_turn: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reverse_head: int = -1

    def _costs(self, weight: np.ndarray | None) -> tuple[float, float]:
        """Seconds to drive the whole segment forward and backward under ``weight``."""
        if weight is None:
            return self.edge_time, self.reverse_time
        forward = (
            float(weight[self.edge]) - float(self.in_turn[0])
            if self.in_arcs.size
            else (float(weight[self.edge]))
        )
        backward = 0.0
        if self.reverse_edge >= 0:
            backward = float(weight[self.reverse_edge]) - float(self.reverse_in_turn[0])
        return forward, backward

    def source_seeds(self, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Nodes reachable from the point, and the cost to reach each.

        Parameters
        ----------
        weight : ndarray of float64, shape (m,), optional
            Per-edge cost (default: the graph's travel times, seconds).

        Returns
        -------
        nodes : ndarray of int32
        costs : ndarray of float64
            Cost from the point to each node along the snapped edge(s).
        """
        forward, backward = self._costs(weight)
        nodes, costs = [self.head], [(1.0 - self.fraction) * forward]
        if self.reverse_edge >= 0:
            nodes.append(self.reverse_head)
            costs.append(self.fraction * backward)
        return np.asarray(nodes, dtype=np.int32), np.asarray(costs, dtype=np.float64)

    def target_seeds(self, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Nodes from which the point is reached, and the cost from each node to the point.

        In a turn-expanded graph these are the ends of every segment from which
        a turn onto the point's segment is allowed, each with its turn cost.
        See :meth:`source_seeds` for ``weight`` and the return types.
        """
        nodes = [self.in_tails]
        costs = [self._arc_costs(self.in_arcs, self.in_turn, weight, self.fraction)]
        if self.reverse_edge >= 0:
            nodes.append(self.reverse_in_tails)
            costs.append(
                self._arc_costs(
                    self.reverse_in_arcs, self.reverse_in_turn, weight, 1.0 - self.fraction
                )
            )
        # concatenate makes new arrays: no second copy when the dtype is already right
        return (
            np.concatenate(nodes).astype(np.int32, copy=False),
            np.concatenate(costs).astype(np.float64, copy=False),
        )

    def _arc_costs(
        self, arcs: np.ndarray, turn: np.ndarray, weight: ArrayLike | None, share: float
    ) -> np.ndarray:
        """Turn cost plus ``share`` of the segment, per arc onto it (inf when closed)."""
        if weight is None:
            seg = self.edge_time if arcs is self.in_arcs else self.reverse_time
            costs: np.ndarray = turn + share * seg
            return costs
        w = np.asarray(weight)[arcs]
        # A closed arc (inf) stays closed, also at share 0 (0 * inf would be NaN).
        return np.where(np.isfinite(w), turn + share * (w - turn), np.inf)

    def direct_cost_to(self, other: Snap, weight: np.ndarray | None = None) -> float:
        """Cost of going from this point to ``other`` along their shared edge (inf if none).

        A search through the seeds misses a trip that never reaches a node (both
        points on the same road); take the minimum of this and the search result.
        """
        if other.edge != self.edge:
            return math.inf
        forward, backward = self._costs(weight)
        if other.fraction >= self.fraction:
            return (other.fraction - self.fraction) * forward
        if self.reverse_edge >= 0:
            return (self.fraction - other.fraction) * backward
        return math.inf

    def source_offset_m(self, node: int) -> float:
        """Metres from the point to ``node``, one of :meth:`source_seeds`' nodes."""
        if node == self.head:
            return (1.0 - self.fraction) * self.edge_length_m
        return self.fraction * self.edge_length_m

    def target_offset_m(self, node: int) -> float:
        """Metres from ``node``, one of :meth:`target_seeds`' nodes, to the point."""
        if node in self.in_tails.tolist():  # a handful of ints: faster than ndarray.__contains__
            return self.fraction * self.edge_length_m
        return (1.0 - self.fraction) * self.edge_length_m


class Snapper:
    """Nearest-road lookups on one graph (build once, query many times).

    Parameters
    ----------
    graph : RoadGraph
        The graph to snap onto.
    cell_m : float
        Side of a cell of the snapping grid (memory vs. query work).
    """

    def __init__(self, graph: RoadGraph, *, cell_m: float = GRID_CELL_M) -> None:
        if graph.n_edges == 0:
            raise SnapError(f"the {graph.profile} graph has no roads to snap to; rebuild it")
        self.graph = graph
        self.cell_m = float(cell_m)
        lat = np.asarray(graph.lat)
        lon = np.asarray(graph.lon)
        self.plane = LocalPlane(float(np.mean(lat)))
        self._bounds = (
            float(lat.min()),
            float(lat.max()),
            float(lon.min()),
            float(lon.max()),
        )
        # Edges driving the same road segment (turns onto it) form one group.
        road = np.asarray(graph.road_edge)
        order = np.argsort(road, kind="stable")
        sorted_road = road[order]
        starts = np.flatnonzero(np.r_[True, sorted_road[1:] != sorted_road[:-1]])
        self._group_first = np.r_[starts, road.shape[0]].astype(np.int64)
        self._group_arcs = order.astype(np.int64)
        self._group_of = np.empty(road.shape[0], dtype=np.int64)
        self._group_of[order] = np.repeat(np.arange(starts.shape[0]), np.diff(self._group_first))
        reps = order[starts]
        tails = graph.tail()
        self._tails = tails
        # Per group member, in group order: its tail (int32) and turn cost, so that a
        # snap hands out slices (read-only views) instead of gathering them each time.
        self._group_tails = tails[self._group_arcs].astype(np.int32)
        self._group_turn = np.asarray(graph.turn_cost)[self._group_arcs]
        for shared in (self._group_arcs, self._group_tails, self._group_turn):
            shared.setflags(write=False)
        self.reverse = _reverse_twins(graph, reps)
        _, dense = np.unique(np.asarray(graph.osm_node_id), return_inverse=True)
        canonical = reps[
            (self.reverse[reps] < 0) | (dense[tails[reps]] < dense[np.asarray(graph.head)[reps]])
        ]
        #: One edge per road segment on the ground (a two-way road once), for drawing.
        self.segments = np.sort(canonical)
        self._build_segments(canonical)
        self._node_tree: cKDTree | None = None

    # ------------------------------------------------------------------ index
    def _build_segments(self, edges: np.ndarray) -> None:
        g = self.graph
        tail = g.tail()[edges]
        inner = (g.geom_first[edges + 1] - g.geom_first[edges]).astype(np.int64)
        n_pts = inner + 2
        first = np.zeros(edges.shape[0] + 1, dtype=np.int64)
        np.cumsum(n_pts, out=first[1:])
        total = int(first[-1])
        plat = np.empty(total)
        plon = np.empty(total)
        plat[first[:-1]] = g.lat[tail]
        plon[first[:-1]] = g.lon[tail]
        plat[first[1:] - 1] = g.lat[g.head[edges]]
        plon[first[1:] - 1] = g.lon[g.head[edges]]
        rank = np.arange(int(inner.sum())) - np.repeat(np.cumsum(inner) - inner, inner)
        dest = np.repeat(first[:-1] + 1, inner) + rank
        src = np.repeat(g.geom_first[edges], inner) + rank
        plat[dest] = g.geom_lat[src]
        plon[dest] = g.geom_lon[src]

        # Segments: every point except the last of each edge starts one.
        is_start = np.ones(total, dtype=bool)
        is_start[first[1:] - 1] = False
        a = np.flatnonzero(is_start)
        self.seg_edge = np.repeat(edges, n_pts - 1)
        self.seg_lat = np.stack((plat[a], plat[a + 1]), axis=1)
        self.seg_lon = np.stack((plon[a], plon[a + 1]), axis=1)
        seg_len = haversine_m(plat[a], plon[a], plat[a + 1], plon[a + 1])
        seg_count = n_pts - 1
        before = np.cumsum(seg_len) - seg_len  # running length before each segment
        first_seg = np.cumsum(seg_count) - seg_count
        self.seg_offset_m = before - np.repeat(before[first_seg], seg_count)
        self.seg_len_m = seg_len
        ax, ay = self.plane.to_xy(plat[a], plon[a])
        bx, by = self.plane.to_xy(plat[a + 1], plon[a + 1])
        self.seg_xy = np.stack((ax, ay, bx, by), axis=1)

        # Every segment under each grid cell its bounding box touches. The grid spans
        # the bulk of the segments (a few stray far-off points must not blow it up);
        # boxes beyond it are clamped onto its border cells, which keeps the ring
        # bound exact for queries inside the grid (queries outside: brute force).
        xs, ys = np.concatenate((ax, bx)), np.concatenate((ay, by))
        x0, x1 = (float(v) for v in np.percentile(xs, [0.1, 99.9]))
        y0, y1 = (float(v) for v in np.percentile(ys, [0.1, 99.9]))
        c = self.cell_m
        while (math.floor((x1 - x0) / c) + 1) * (math.floor((y1 - y0) / c) + 1) > MAX_GRID_CELLS:
            c *= 2.0
        self.cell_m = c
        nx, ny = math.floor((x1 - x0) / c) + 1, math.floor((y1 - y0) / c) + 1
        self._grid_origin = (x0, y0)
        self._grid_shape = (nx, ny)

        def cells(v: np.ndarray, lo: float, n: int) -> np.ndarray:
            return np.clip(np.floor((v - lo) / c), 0, n - 1).astype(np.int64)

        self._cell_first, self._cell_seg = _grid_index(
            cells(np.minimum(ax, bx), x0, nx),
            cells(np.minimum(ay, by), y0, ny),
            cells(np.maximum(ax, bx), x0, nx),
            cells(np.maximum(ay, by), y0, ny),
            nx,
            ny,
        )

    # ------------------------------------------------------------------ checks
    def _check(self, lat: float, lon: float, max_distance_m: float) -> None:
        if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
            raise SnapError(
                f"coordinate ({lat}, {lon}) is not a valid (lat, lon) in WGS84 degrees "
                "(|lat| <= 90, |lon| <= 180); check the order and the values"
            )
        min_lat, max_lat, min_lon, max_lon = self._bounds
        margin_lat = max_distance_m / M_PER_DEG_LAT
        margin_lon = margin_lat / max(math.cos(math.radians(lat)), 1e-6)
        if not (
            min_lat - margin_lat <= lat <= max_lat + margin_lat
            and min_lon - margin_lon <= lon <= max_lon + margin_lon
        ):
            raise SnapError(
                f"coordinate ({lat:.6f}, {lon:.6f}) is outside the area of the "
                f"{self.graph.profile} road graph (lat {min_lat:.4f}..{max_lat:.4f}, "
                f"lon {min_lon:.4f}..{max_lon:.4f}); choose a point inside the region"
            )

    # ------------------------------------------------------------------ queries
    def snap(self, lat: float, lon: float, *, max_distance_m: float = 500.0) -> Snap:
        """Snap a coordinate to the closest point on any edge.

        Parameters
        ----------
        lat, lon : float
            WGS84 degrees.
        max_distance_m : float
            Refuse points farther than this from every road.

        Raises
        ------
        SnapError
            Invalid coordinate, outside the graph's area or too far from any road.
        """
        lat, lon = float(lat), float(lon)
        self._check(lat, lon, max_distance_m)
        # Scalar arithmetic and one compiled call that gathers every index the Snap
        # needs: this runs twice per route and plan query.
        g = self.graph
        x0, y0 = self._grid_origin
        (
            s_lat, s_lon, along, edge, reverse, tail, head, reverse_head,
            length, edge_time, reverse_time, lo, hi, r_lo, r_hi,
        ) = _snap_kernel(
            lon * self.plane._kx, lat * self.plane._ky, x0, y0, self.cell_m,
            self._grid_shape[0], self._grid_shape[1], self._cell_first, self._cell_seg,
            self.seg_xy, self.seg_lat, self.seg_lon, self.seg_edge, self.seg_offset_m,
            self.seg_len_m, g.length_m, self.reverse, self._tails, g.head, g.travel_time,
            g.turn_cost, self._group_of, self._group_first,
        )  # fmt: skip
        distance = haversine_scalar_m(lat, lon, s_lat, s_lon)
        if distance > max_distance_m:
            raise SnapError(
                f"coordinate ({lat:.6f}, {lon:.6f}) is {distance:,.0f} m from the nearest "
                f"{g.profile} road (limit {max_distance_m:,.0f} m); choose a point "
                "nearer a road or allow a larger max_distance_m"
            )
        fraction = min(max(along / length, 0.0), 1.0) if length > 0 else 0.0
        arcs = self._group_arcs
        tails = self._group_tails
        turns = self._group_turn
        return Snap(
            query_lat=lat,
            query_lon=lon,
            lat=s_lat,
            lon=s_lon,
            distance_m=distance,
            edge=edge,
            fraction=fraction,
            reverse_edge=reverse,
            tail=tail,
            head=head,
            edge_time=edge_time,
            reverse_time=reverse_time,
            edge_length_m=length,
            in_arcs=arcs[lo:hi],
            in_tails=tails[lo:hi],
            in_turn=turns[lo:hi],
            reverse_in_arcs=arcs[r_lo:r_hi],
            reverse_in_tails=tails[r_lo:r_hi],
            reverse_in_turn=turns[r_lo:r_hi],
            reverse_head=reverse_head,
        )

    def _group(self, edge: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The edges driving the same segment as ``edge``, their tails and turn costs.

        Read-only views into the snapper's group arrays (shared by every snap).
        """
        k = int(self._group_of[edge])
        lo, hi = int(self._group_first[k]), int(self._group_first[k + 1])
        return self._group_arcs[lo:hi], self._group_tails[lo:hi], self._group_turn[lo:hi]

    def snap_many(
        self, lats: np.ndarray, lons: np.ndarray, max_distance_m: float = 500.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest graph node of many points at once.

        Parameters
        ----------
        lats, lons : array_like of float
            WGS84 degrees, same length.
        max_distance_m : float
            Points farther than this from every node get node -1.

        Returns
        -------
        nodes : ndarray of int32
            Nearest node per point, -1 where beyond ``max_distance_m``.
        distance_m : ndarray of float64
            Haversine distance to the nearest node (also for the -1 points).

        Raises
        ------
        SnapError
            A coordinate is not a valid WGS84 (lat, lon) or the lengths differ.
        """
        lats = np.asarray(lats, dtype=np.float64).ravel()
        lons = np.asarray(lons, dtype=np.float64).ravel()
        if lats.shape != lons.shape:
            raise SnapError(f"got {lats.shape[0]} latitudes but {lons.shape[0]} longitudes")
        bad = np.flatnonzero(~valid_latlon(lats, lons))
        if bad.shape[0]:
            i = int(bad[0])
            raise SnapError(
                f"{bad.shape[0]} coordinate(s) are not valid WGS84 (lat, lon), first at "
                f"index {i}: ({lats[i]}, {lons[i]}); check the order and the values"
            )
        if self._node_tree is None:
            nx, ny = self.plane.to_xy(self.graph.lat, self.graph.lon)
            self._node_tree = cKDTree(np.column_stack((nx, ny)))
        if lats.shape[0] == 0:
            return np.empty(0, dtype=np.int32), np.empty(0, dtype=np.float64)
        px, py = self.plane.to_xy(lats, lons)
        _, idx = self._node_tree.query(np.column_stack((px, py)))
        idx = idx.astype(np.int32)
        distance = haversine_m(lats, lons, self.graph.lat[idx], self.graph.lon[idx])
        nodes = np.where(distance <= max_distance_m, idx, np.int32(-1)).astype(np.int32)
        return nodes, distance


def location_points(graph: RoadGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points that stand for the graph's nodes when a coordinate is placed on a node.

    A node of a node-based graph is a junction: its own coordinate. A node of a
    turn-expanded graph is "on road segment ``s``, at its end"; it is stood for by
    the middle of every straight piece of the segment, so that a point is placed on
    the *nearest street* (not on whichever segment happens to end at the nearest
    junction, which may be a motorway ramp).

    Returns
    -------
    lat, lon : ndarray of float64
    node : ndarray of int64
        The node each point stands for.
    """
    if not graph.turn_expanded:
        n = graph.n_nodes
        return np.asarray(graph.lat), np.asarray(graph.lon), np.arange(n, dtype=np.int64)
    head = np.asarray(graph.head, dtype=np.int64)
    # One arc into each node carries the segment's geometry.
    arcs = np.unique(head, return_index=True)[1]
    nodes = head[arcs]
    tails = graph.tail()[arcs]
    gf = np.asarray(graph.geom_first)
    inner = gf[arcs + 1] - gf[arcs]
    n_pts = inner + 2
    first = np.zeros(arcs.size + 1, dtype=np.int64)
    np.cumsum(n_pts, out=first[1:])
    lat = np.empty(int(first[-1]))
    lon = np.empty(int(first[-1]))
    lat[first[:-1]], lon[first[:-1]] = graph.lat[tails], graph.lon[tails]
    lat[first[1:] - 1], lon[first[1:] - 1] = graph.lat[nodes], graph.lon[nodes]
    rank = np.arange(int(inner.sum())) - np.repeat(np.cumsum(inner) - inner, inner)
    dest = np.repeat(first[:-1] + 1, inner) + rank
    src = np.repeat(gf[arcs], inner) + rank
    lat[dest], lon[dest] = np.asarray(graph.geom_lat)[src], np.asarray(graph.geom_lon)[src]
    starts = np.ones(lat.size, dtype=bool)
    starts[first[1:] - 1] = False
    a = np.flatnonzero(starts)
    owner = np.repeat(nodes, n_pts - 1)
    return 0.5 * (lat[a] + lat[a + 1]), 0.5 * (lon[a] + lon[a + 1]), owner


@njit(cache=True)
def _grid_index(
    cx0: Int64Array, cy0: Int64Array, cx1: Int64Array, cy1: Int64Array, nx: int, ny: int
) -> tuple[Int64Array, Int64Array]:
    """CSR ``(cell_first, cell_seg)``: the segments whose box covers cell ``i * ny + j``."""
    counts = np.zeros(nx * ny + 1, dtype=np.int64)
    for s in range(cx0.shape[0]):
        for i in range(cx0[s], cx1[s] + 1):
            for j in range(cy0[s], cy1[s] + 1):
                counts[i * ny + j + 1] += 1
    for k in range(nx * ny):
        counts[k + 1] += counts[k]
    fill = counts[:-1].copy()
    cell_seg = np.empty(counts[-1], dtype=np.int64)
    for s in range(cx0.shape[0]):
        for i in range(cx0[s], cx1[s] + 1):
            for j in range(cy0[s], cy1[s] + 1):
                cell_seg[fill[i * ny + j]] = s
                fill[i * ny + j] += 1
    return counts, cell_seg


@njit(cache=True, nogil=True, inline="always")
def _to_segment(seg_xy: FloatArray, s: int, px: float, py: float) -> tuple[float, float]:
    """(distance, t) from (px, py) to its projection onto segment ``s``, clamped to the ends."""
    ax = seg_xy[s, 0]
    ay = seg_xy[s, 1]
    dx = seg_xy[s, 2] - ax
    dy = seg_xy[s, 3] - ay
    wx = px - ax
    wy = py - ay
    len2 = dx * dx + dy * dy
    t = (wx * dx + wy * dy) / len2 if len2 > 0.0 else 0.0
    t = min(max(t, 0.0), 1.0)
    return math.hypot(wx - t * dx, wy - t * dy), t


@njit(cache=True, nogil=True)
def _grid_nearest(
    px: float, py: float, x0: float, y0: float, cell: float, nx: int, ny: int,
    cell_first: Int64Array, cell_seg: Int64Array, seg_xy: FloatArray,
) -> tuple[int, float]:  # fmt: skip
    """(segment, t) of the segment closest to (px, py): the grid cells ring by ring.

    A cell in ring ``r`` (Chebyshev distance from the query's cell) is at least
    ``(r - 1) * cell`` away, so the search stops before the first ring that
    cannot hold a strictly closer segment. Distance: the point's projection onto
    the segment in the plane, clamped to its ends; ties go to the lowest segment id.
    """
    qx = math.floor((px - x0) / cell)  # an int64 in numba
    qy = math.floor((py - y0) / cell)
    best = -1
    best_t = 0.0
    best_d = np.inf
    if qx < 0 or qx >= nx or qy < 0 or qy >= ny:  # outside the grid: every segment
        for s in range(seg_xy.shape[0]):
            d, t = _to_segment(seg_xy, s, px, py)
            if d < best_d:
                best, best_t, best_d = s, t, d
        return best, best_t
    r_max = max(qx, nx - 1 - qx, qy, ny - 1 - qy, 0)
    for r in range(r_max + 1):
        if best >= 0 and best_d < (r - 1) * cell:
            break
        for i in range(qx - r, qx + r + 1):
            if i < 0 or i >= nx:
                continue
            edge_row = i == qx - r or i == qx + r
            step = 1 if edge_row else 2 * r
            j = qy - r
            while j <= qy + r:
                if 0 <= j < ny:
                    k = i * ny + j
                    for m in range(cell_first[k], cell_first[k + 1]):
                        s = cell_seg[m]
                        d, t = _to_segment(seg_xy, s, px, py)
                        if d < best_d or (d == best_d and s < best):
                            best, best_t, best_d = s, t, d
                if r == 0:
                    break
                j += step
    return best, best_t


@njit(cache=True, nogil=True)
def _snap_kernel(
    px: float,
    py: float,
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    cell_first: NDArray[Any],
    cell_seg: NDArray[Any],
    seg_xy: NDArray[Any],
    seg_lat: NDArray[Any],
    seg_lon: NDArray[Any],
    seg_edge: NDArray[Any],
    seg_offset_m: NDArray[Any],
    seg_len_m: NDArray[Any],
    length_m: NDArray[Any],
    reverse: NDArray[Any],
    tails: NDArray[Any],
    head: NDArray[Any],
    travel_time: NDArray[Any],
    turn_cost: NDArray[Any],
    group_of: NDArray[Any],
    group_first: NDArray[Any],
) -> tuple[float, float, float, int, int, int, int, int, float, float, float, int, int, int, int]:
    """Everything :meth:`Snapper.snap` reads from the arrays, in one call.

    The nearest segment (:func:`_grid_nearest`), the point on it, how far along its
    edge it lies, the edge's and its reverse twin's ends and driving times (turn
    costs excluded), and the ranges of both edges' groups in the group arrays
    (``r_lo == r_hi == 0`` on a one-way road). The arithmetic is the same as on the
    Python side before (same operations in the same order, no fast-math).

    Loose arrays, not a namedtuple: numba types a tuple argument in Python on every
    call (about 5.7 us for 20 arrays against 2.2 us as separate arguments), and this
    runs twice per route request.
    """
    seg, tb = _grid_nearest(px, py, x0, y0, cell, nx, ny, cell_first, cell_seg, seg_xy)
    s_lat = seg_lat[seg, 0] + tb * (seg_lat[seg, 1] - seg_lat[seg, 0])
    s_lon = seg_lon[seg, 0] + tb * (seg_lon[seg, 1] - seg_lon[seg, 0])
    edge = seg_edge[seg]
    along = seg_offset_m[seg] + tb * seg_len_m[seg]
    rev = reverse[edge]
    k = group_of[edge]
    lo = group_first[k]
    hi = group_first[k + 1]
    r_lo = 0
    r_hi = 0
    reverse_time = 0.0
    reverse_head = -1
    if rev >= 0:
        rk = group_of[rev]
        r_lo = group_first[rk]
        r_hi = group_first[rk + 1]
        reverse_time = float(travel_time[rev] - turn_cost[rev])
        reverse_head = int(head[rev])
    return (
        float(s_lat), float(s_lon), float(along), int(edge), int(rev), int(tails[edge]),
        int(head[edge]), reverse_head, float(length_m[edge]),
        float(travel_time[edge] - turn_cost[edge]), reverse_time, int(lo), int(hi),
        int(r_lo), int(r_hi),
    )  # fmt: skip


def _reverse_twins(graph: RoadGraph, reps: np.ndarray) -> np.ndarray:
    """For every edge, the representative edge of the segment running back along the same road.

    Segments are identified by their end points' OSM ids, so this works for
    node-based and turn-expanded graphs alike; -1 on one-way roads.
    ``reps`` holds one edge per segment (:attr:`RoadGraph.road_edge` group).
    """
    m = graph.n_edges
    _, dense = np.unique(np.asarray(graph.osm_node_id), return_inverse=True)
    n = int(dense.max(initial=0)) + 1
    tail = dense[graph.tail()].astype(np.int64)[reps]
    head = dense[np.asarray(graph.head)].astype(np.int64)[reps]
    way = np.asarray(graph.way_id)[reps]
    length = np.asarray(graph.length_m)[reps]
    inner = np.diff(graph.geom_first)[reps]
    keys = tail * n + head
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    wanted = head * n + tail
    pos = np.clip(np.searchsorted(sorted_keys, wanted), 0, max(keys.shape[0] - 1, 0))
    cand = order[pos]
    ok = (
        (sorted_keys[pos] == wanted)
        & (way[cand] == way)
        & np.isclose(length[cand], length, rtol=1e-9, atol=1e-6)
        & (inner[cand] == inner)
        & (tail != head)
    )
    twin_of_rep = np.where(ok, reps[cand], -1).astype(np.int64)
    out = np.full(m, -1, dtype=np.int64)
    out[reps] = twin_of_rep
    return out
