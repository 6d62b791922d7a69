"""Shortest-path results: parent-pointer tracing, node sequences and drawable polylines.

Search kernels leave a *parent edge* per node (``-1`` at a source); the
functions here turn those into original edge sequences, the node sequence they
visit, and (lat, lon) polylines through each edge's shape points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from routing.arrays import FloatArray, Int64Array, IntArray
from routing.geo import haversine_m
from routing.graph import RoadGraph


@dataclass(frozen=True, eq=False)
class PathResult:
    """A shortest path between seed sets.

    Attributes
    ----------
    cost : float
        Travel time in seconds, including the chosen source and target seed costs.
    edges : ndarray of int64
        Original edge ids in driving order (empty when source and target node coincide).
    nodes : ndarray of int32
        Nodes visited, ``len(edges) + 1`` of them: the chosen source node first,
        the chosen target node last.
    length_m : float
        Sum of the edges' lengths (seed offsets excluded).
    """

    cost: float
    edges: np.ndarray
    nodes: np.ndarray
    length_m: float

    @property
    def source(self) -> int:
        """The seed node the path starts from."""
        return int(self.nodes[0])

    @property
    def target(self) -> int:
        """The seed node the path ends at."""
        return int(self.nodes[-1])


def make_path(graph: RoadGraph, cost: float, edges: np.ndarray, start: int) -> PathResult:
    """Wrap an edge sequence starting at node ``start`` into a :class:`PathResult`."""
    edges = np.asarray(edges, dtype=np.int64)
    nodes = np.empty(edges.size + 1, dtype=np.int32)
    nodes[0] = start
    nodes[1:] = graph.head[edges]
    length = float(graph.length_m[edges].sum()) if edges.size else 0.0
    return PathResult(cost=float(cost), edges=edges, nodes=nodes, length_m=length)


@njit(cache=True, nogil=True)
def trace_forward(parent_edge: np.ndarray, first_out: np.ndarray, node: int) -> np.ndarray:
    """Edges from a source to ``node`` following ``parent_edge`` (edge into each node)."""
    count = 0
    v = node
    while parent_edge[v] >= 0:
        count += 1
        v = np.searchsorted(first_out, parent_edge[v], side="right") - 1
    out = np.empty(count, dtype=np.int64)
    v = node
    for i in range(count - 1, -1, -1):
        e = parent_edge[v]
        out[i] = e
        v = np.searchsorted(first_out, e, side="right") - 1
    return out


@njit(cache=True, nogil=True)
def trace_backward(parent_edge: np.ndarray, head: np.ndarray, node: int) -> np.ndarray:
    """Edges from ``node`` to a target following ``parent_edge`` (edge out of each node)."""
    count = 0
    v = node
    while parent_edge[v] >= 0:
        count += 1
        v = head[parent_edge[v]]
    out = np.empty(count, dtype=np.int64)
    v = node
    for i in range(count):
        e = parent_edge[v]
        out[i] = e
        v = head[e]
    return out


def edge_tails(graph: RoadGraph, edges: np.ndarray) -> np.ndarray:
    """Tail node of each edge in ``edges`` (int32)."""
    edges = np.asarray(edges, dtype=np.int64)
    return (np.searchsorted(graph.first_out, edges, side="right") - 1).astype(np.int32)


def check_path(graph: RoadGraph, edges: np.ndarray) -> None:
    """Raise ``ValueError`` unless consecutive edges share their end nodes."""
    edges = np.asarray(edges, dtype=np.int64)
    if edges.size > 1 and not np.array_equal(graph.head[edges[:-1]], edge_tails(graph, edges[1:])):
        raise ValueError("path edges are not consecutive")


def path_polyline(graph: RoadGraph, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (lat, lon) polyline of a path through every edge's shape points.

    Shared end nodes appear once; an empty path gives empty arrays.
    """
    edges = np.asarray(edges, dtype=np.int64)
    if edges.size == 0:
        return np.empty(0), np.empty(0)
    return _path_polyline(
        graph.first_out, graph.head, graph.geom_first, graph.geom_lat, graph.geom_lon,
        graph.lat, graph.lon, edges,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _path_polyline(
    first_out: IntArray, head: IntArray, geom_first: IntArray, geom_lat: FloatArray,
    geom_lon: FloatArray, lat: FloatArray, lon: FloatArray, edges: Int64Array,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """:func:`path_polyline` in one pass: each edge's tail, its shape points, the last head."""
    total = 1
    for i in range(edges.shape[0]):
        e = edges[i]
        total += geom_first[e + 1] - geom_first[e] + 1
    out_lat = np.empty(total)
    out_lon = np.empty(total)
    k = 0
    for i in range(edges.shape[0]):
        e = edges[i]
        tail = np.searchsorted(first_out, e, side="right") - 1
        out_lat[k] = lat[tail]
        out_lon[k] = lon[tail]
        k += 1
        for j in range(geom_first[e], geom_first[e + 1]):
            out_lat[k] = geom_lat[j]
            out_lon[k] = geom_lon[j]
            k += 1
    last = head[edges[edges.shape[0] - 1]]
    out_lat[k] = lat[last]
    out_lon[k] = lon[last]
    return out_lat, out_lon


def edge_prefix_polyline(
    graph: RoadGraph, edge: int, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the first ``fraction`` (0..1, by length) of ``edge``'s polyline.

    Used to draw partly reached edges of an isochrone.
    """
    lat, lon = graph.edge_points(int(edge))
    fraction = min(max(float(fraction), 0.0), 1.0)
    seg = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    total = float(seg.sum())
    if fraction >= 1.0 or total == 0.0:
        return (lat, lon) if fraction > 0 or total == 0.0 else (lat[:1], lon[:1])
    want = fraction * total
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    i = int(np.searchsorted(cum, want, side="right") - 1)  # segment holding the cut
    i = min(i, seg.size - 1)
    t = (want - cum[i]) / seg[i] if seg[i] > 0 else 0.0
    cut_lat = lat[i] + t * (lat[i + 1] - lat[i])
    cut_lon = lon[i] + t * (lon[i + 1] - lon[i])
    return np.append(lat[: i + 1], cut_lat), np.append(lon[: i + 1], cut_lon)
