"""Point-to-point and bounded shortest-path searches on a :class:`RoadGraph`.

Every search starts from *seeds*: arrays of nodes with initial costs, so a
caller can start and end between nodes (a snapped point on an edge seeds both
of the edge's ends with the partial travel times). Kernels are numba
functions on arrays; they return ``inf`` when no route exists, and the
high-level wrappers turn that into :class:`~routing.errors.NoRouteError`.

Methods: ``"dijkstra"`` (one-directional), ``"bidijkstra"`` (from both ends;
the reverse graph is derived once per graph and kept), ``"astar"`` (goal
directed with a haversine / maximum-speed lower bound). For many queries on
the same graph use :mod:`routing.ch`.
"""

from __future__ import annotations

import logging
import math
import weakref
from typing import NamedTuple, TypeVar

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from routing.arrays import FloatArray, Int32Array, Int64Array, IntArray
from routing.errors import NoRouteError, RequestError
from routing.geo import EARTH_RADIUS_M, haversine_kernel
from routing.graph import RoadGraph
from routing.paths import PathResult, make_path, trace_backward, trace_forward

log = logging.getLogger(__name__)

METHODS = ("dijkstra", "bidijkstra", "astar")
_DEG = math.pi / 180.0


# --------------------------------------------------------------------------- heap
# An indexed binary min-heap in three arrays: ``hn`` nodes, ``hk`` keys and
# ``pos`` (slot of each node, -1 when absent), so decrease-key is O(log n) and
# the heap never holds more than one entry per node.


@njit(cache=True, nogil=True)
def _sift_up(hn: IntArray, hk: FloatArray, pos: IntArray, i: int) -> None:
    v = hn[i]
    k = hk[i]
    while i > 0:
        p = (i - 1) >> 1
        if hk[p] <= k:
            break
        hn[i] = hn[p]
        hk[i] = hk[p]
        pos[hn[i]] = i
        i = p
    hn[i] = v
    hk[i] = k
    pos[v] = i


@njit(cache=True, nogil=True)
def heap_sift_down(hn: IntArray, hk: FloatArray, pos: IntArray, i: int, size: int) -> None:
    """Move the entry at heap position ``i`` down until both children are no smaller."""
    v = hn[i]
    k = hk[i]
    while True:
        c = 2 * i + 1
        if c >= size:
            break
        if c + 1 < size and hk[c + 1] < hk[c]:
            c += 1
        if hk[c] >= k:
            break
        hn[i] = hn[c]
        hk[i] = hk[c]
        pos[hn[i]] = i
        i = c
    hn[i] = v
    hk[i] = k
    pos[v] = i


@njit(cache=True, nogil=True)
def heap_push(hn: IntArray, hk: FloatArray, pos: IntArray, size: int, v: int, key: float) -> int:
    """Insert ``v`` with ``key`` or lower its key; return the new heap size."""
    i = pos[v]
    if i < 0:
        i = size
        size += 1
        hn[i] = v
    hk[i] = key
    _sift_up(hn, hk, pos, i)
    return size


@njit(cache=True, nogil=True)
def heap_pop(hn: IntArray, hk: FloatArray, pos: IntArray, size: int) -> tuple[int, float, int]:
    """Remove the minimum; return ``(node, key, new_size)``."""
    v = hn[0]
    key = hk[0]
    pos[v] = -1
    size -= 1
    if size > 0:
        hn[0] = hn[size]
        hk[0] = hk[size]
        heap_sift_down(hn, hk, pos, 0, size)
    return v, key, size


# ------------------------------------------------------------------------ kernels


@njit(cache=True, nogil=True)
def _dijkstra_p2p(
    first_out: IntArray, head: IntArray, weight: FloatArray,
    src: IntArray, src_cost: FloatArray, dst: IntArray, dst_cost: FloatArray,
) -> tuple[float, int, Int64Array]:  # fmt: skip
    """One-directional Dijkstra from seeds until the best target seed is final.

    Returns ``(cost, target_node, parent_edge)``; ``cost`` is inf when unreachable.
    """
    n = first_out.shape[0] - 1
    dist = np.full(n, np.inf)
    parent = np.full(n, -1, dtype=np.int64)
    tcost = np.full(n, np.inf)
    for j in range(dst.shape[0]):
        tcost[dst[j]] = min(tcost[dst[j]], dst_cost[j])
    hn = np.empty(n, dtype=np.int32)
    hk = np.empty(n)
    pos = np.full(n, -1, dtype=np.int32)
    size = 0
    for j in range(src.shape[0]):
        if src_cost[j] < dist[src[j]]:
            dist[src[j]] = src_cost[j]
            size = heap_push(hn, hk, pos, size, src[j], src_cost[j])
    best = np.inf
    best_node = -1
    while size > 0:
        v, d, size = heap_pop(hn, hk, pos, size)
        if d >= best:
            break
        if d + tcost[v] < best:
            best = d + tcost[v]
            best_node = v
        for e in range(first_out[v], first_out[v + 1]):
            x = head[e]
            nd = d + weight[e]
            if nd < dist[x]:
                dist[x] = nd
                parent[x] = e
                size = heap_push(hn, hk, pos, size, x, nd)
    return best, best_node, parent


@njit(cache=True, nogil=True)
def _bidijkstra_p2p(
    first_out: IntArray, head: IntArray, weight: FloatArray,
    first_in: IntArray, rtail: IntArray, redge: IntArray, rweight: FloatArray,
    src: IntArray, src_cost: FloatArray, dst: IntArray, dst_cost: FloatArray,
) -> tuple[float, int, Int64Array, Int64Array]:  # fmt: skip
    """Bidirectional Dijkstra between seed sets.

    The backward search runs on the reverse graph (``first_in``/``rtail``,
    ``redge`` = original edge id). Stops once the two heap minima sum to at
    least the best meeting cost. Returns ``(cost, meet, parent_f, parent_b)``
    with forward parents = edge into a node, backward parents = edge out of it.
    """
    n = first_out.shape[0] - 1
    df = np.full(n, np.inf)
    db = np.full(n, np.inf)
    pf = np.full(n, -1, dtype=np.int64)
    pb = np.full(n, -1, dtype=np.int64)
    hnf = np.empty(n, dtype=np.int32)
    hkf = np.empty(n)
    posf = np.full(n, -1, dtype=np.int32)
    hnb = np.empty(n, dtype=np.int32)
    hkb = np.empty(n)
    posb = np.full(n, -1, dtype=np.int32)
    sf = 0
    sb = 0
    for j in range(src.shape[0]):
        if src_cost[j] < df[src[j]]:
            df[src[j]] = src_cost[j]
            sf = heap_push(hnf, hkf, posf, sf, src[j], src_cost[j])
    for j in range(dst.shape[0]):
        if dst_cost[j] < db[dst[j]]:
            db[dst[j]] = dst_cost[j]
            sb = heap_push(hnb, hkb, posb, sb, dst[j], dst_cost[j])
    best = np.inf
    meet = -1
    for j in range(src.shape[0]):
        v = src[j]
        if df[v] + db[v] < best:
            best = df[v] + db[v]
            meet = v
    while sf > 0 and sb > 0:
        if hkf[0] + hkb[0] >= best:
            break
        if hkf[0] <= hkb[0]:
            v, d, sf = heap_pop(hnf, hkf, posf, sf)
            for e in range(first_out[v], first_out[v + 1]):
                x = head[e]
                nd = d + weight[e]
                if nd < df[x]:
                    df[x] = nd
                    pf[x] = e
                    sf = heap_push(hnf, hkf, posf, sf, x, nd)
                    if nd + db[x] < best:
                        best = nd + db[x]
                        meet = x
        else:
            v, d, sb = heap_pop(hnb, hkb, posb, sb)
            for i in range(first_in[v], first_in[v + 1]):
                x = rtail[i]
                nd = d + rweight[i]
                if nd < db[x]:
                    db[x] = nd
                    pb[x] = redge[i]
                    sb = heap_push(hnb, hkb, posb, sb, x, nd)
                    if nd + df[x] < best:
                        best = nd + df[x]
                        meet = x
    return best, meet, pf, pb


@njit(cache=True, nogil=True)
def _max_speed(
    first_out: IntArray, head: IntArray, weight: FloatArray, lat: FloatArray, lon: FloatArray
) -> float:
    """Largest straight-line speed over any edge (inf if a zero-time edge has length)."""
    best = 0.0
    for v in range(first_out.shape[0] - 1):
        for e in range(first_out[v], first_out[v + 1]):
            x = head[e]
            dist = haversine_kernel(lat[v], lon[v], lat[x], lon[x])
            if dist <= 0.0:
                continue
            if weight[e] <= 0.0:
                return np.inf
            best = max(best, dist / weight[e])
    return best


@njit(cache=True, nogil=True)
def _astar_p2p(
    first_out: IntArray, head: IntArray, weight: FloatArray, xyz: FloatArray, inv_speed: float,
    src: IntArray, src_cost: FloatArray, dst: IntArray, dst_cost: FloatArray,
) -> tuple[float, int, Int64Array]:  # fmt: skip
    """A* between seed sets with ``h(v) = min_j(chord(v, t_j) * inv_speed + c_j)``.

    ``xyz`` holds each node on a sphere of the earth's radius (metres); the
    straight chord is never longer than the great-circle distance, and
    ``inv_speed`` is the inverse of an upper bound on great-circle speed over
    any edge, so ``h`` is a consistent lower bound that costs one square root.
    Nodes are re-opened if ever improved, so rounding never costs correctness.
    Returns ``(cost, target, parent)``.
    """
    n = first_out.shape[0] - 1
    g = np.full(n, np.inf)
    h = np.full(n, -1.0)
    parent = np.full(n, -1, dtype=np.int64)
    tcost = np.full(n, np.inf)
    for j in range(dst.shape[0]):
        tcost[dst[j]] = min(tcost[dst[j]], dst_cost[j])
    k = dst.shape[0]
    hn = np.empty(n, dtype=np.int32)
    hk = np.empty(n)
    pos = np.full(n, -1, dtype=np.int32)
    size = 0
    best = np.inf
    best_node = -1
    for j in range(src.shape[0]):
        v = src[j]
        if src_cost[j] < g[v]:
            g[v] = src_cost[j]
            if h[v] < 0.0:
                h[v] = _chord_bound(xyz, v, dst, dst_cost, k, inv_speed)
            size = heap_push(hn, hk, pos, size, v, g[v] + h[v])
    while size > 0:
        v, f, size = heap_pop(hn, hk, pos, size)
        if f >= best:
            break
        d = g[v]
        if d + tcost[v] < best:
            best = d + tcost[v]
            best_node = v
        for e in range(first_out[v], first_out[v + 1]):
            x = head[e]
            nd = d + weight[e]
            if nd < g[x]:
                g[x] = nd
                parent[x] = e
                if h[x] < 0.0:
                    h[x] = _chord_bound(xyz, x, dst, dst_cost, k, inv_speed)
                size = heap_push(hn, hk, pos, size, x, nd + h[x])
    return best, best_node, parent


@njit(cache=True, nogil=True)
def _chord_bound(
    xyz: FloatArray, v: int, dst: IntArray, dst_cost: FloatArray, k: int, inv_speed: float
) -> float:
    hv = np.inf
    for t in range(k):
        w = dst[t]
        dx = xyz[v, 0] - xyz[w, 0]
        dy = xyz[v, 1] - xyz[w, 1]
        dz = xyz[v, 2] - xyz[w, 2]
        hv = min(hv, math.sqrt(dx * dx + dy * dy + dz * dz) * inv_speed + dst_cost[t])
    return hv


@njit(cache=True, nogil=True)
def dijkstra_settle(
    first_out: IntArray, head: IntArray, weight: FloatArray, aux: FloatArray,
    src: IntArray, src_cost: FloatArray, targets: IntArray, budget: float,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """Multi-source Dijkstra with a cost budget and optional early stop at targets.

    Runs until the heap is empty, the next key exceeds ``budget``, or every node
    in ``targets`` (may be empty: no early stop) is settled. Returns
    ``(dist, aux_dist)`` where only settled nodes are finite, and ``aux_dist``
    sums the companion weight ``aux`` (e.g. length) along the chosen tree.
    """
    n = first_out.shape[0] - 1
    dist = np.full(n, np.inf)
    adist = np.full(n, np.inf)
    settled = np.zeros(n, dtype=np.bool_)
    is_target = np.zeros(n, dtype=np.bool_)
    remaining = 0
    for j in range(targets.shape[0]):
        if not is_target[targets[j]]:
            is_target[targets[j]] = True
            remaining += 1
    hn = np.empty(n, dtype=np.int32)
    hk = np.empty(n)
    pos = np.full(n, -1, dtype=np.int32)
    size = 0
    for j in range(src.shape[0]):
        v = src[j]
        if src_cost[j] <= budget and src_cost[j] < dist[v]:
            dist[v] = src_cost[j]
            adist[v] = 0.0
            size = heap_push(hn, hk, pos, size, v, src_cost[j])
    stop_early = targets.shape[0] > 0
    while size > 0:
        v, d, size = heap_pop(hn, hk, pos, size)
        settled[v] = True
        if is_target[v]:
            remaining -= 1
            if stop_early and remaining == 0:
                break
        for e in range(first_out[v], first_out[v + 1]):
            x = head[e]
            nd = d + weight[e]
            if nd <= budget and nd < dist[x]:
                dist[x] = nd
                adist[x] = adist[v] + aux[e]
                size = heap_push(hn, hk, pos, size, x, nd)
    # Entries still in the heap are tentative, not shortest: report them as unreached.
    for i in range(size):
        dist[hn[i]] = np.inf
        adist[hn[i]] = np.inf
    return dist, adist


# ------------------------------------------------------------------ reverse graph


class ReverseArrays(NamedTuple):
    """The reverse graph in CSR form: edges *into* each node.

    ``first_in`` (n + 1) offsets; ``tail`` the source node of each incoming
    edge; ``edge`` its id in the forward graph; ``travel_time`` and
    ``length_m`` gathered in the same order.
    """

    first_in: np.ndarray
    tail: np.ndarray
    edge: np.ndarray
    travel_time: np.ndarray
    length_m: np.ndarray


_V = TypeVar("_V")

_REVERSE: dict[int, ReverseArrays] = {}
_MAX_SPEED: dict[int, float] = {}
_XYZ: dict[int, FloatArray] = {}


def _remember(cache: dict[int, _V], graph: RoadGraph, value: _V) -> _V:
    key = id(graph)
    if key not in cache:
        weakref.finalize(graph, cache.pop, key, None)
    cache[key] = value
    return value


def reverse_graph_arrays(graph: RoadGraph) -> ReverseArrays:
    """Return the reverse graph of ``graph``, derived once and kept while ``graph`` lives."""
    cached = _REVERSE.get(id(graph))
    if cached is not None:
        return cached
    n = graph.n_nodes
    head = graph.head.astype(np.int64)
    order = np.argsort(head, kind="stable")
    first_in = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(head, minlength=n), out=first_in[1:])
    rev = ReverseArrays(
        first_in=first_in,
        tail=graph.tail()[order],
        edge=order.astype(np.int64),
        travel_time=np.ascontiguousarray(graph.travel_time[order]),
        length_m=np.ascontiguousarray(graph.length_m[order]),
    )
    return _remember(_REVERSE, graph, rev)


def max_speed_mps(graph: RoadGraph) -> float:
    """Upper bound on straight-line speed over any edge (for the A* lower bound)."""
    cached = _MAX_SPEED.get(id(graph))
    if cached is not None:
        return cached
    speed = float(_max_speed(graph.first_out, graph.head, graph.travel_time, graph.lat, graph.lon))
    return _remember(_MAX_SPEED, graph, speed)


def sphere_points(graph: RoadGraph) -> np.ndarray:
    """Nodes as (x, y, z) metres on a sphere of the earth's radius (for A*'s chord bound)."""
    cached = _XYZ.get(id(graph))
    if cached is not None:
        return cached
    lat = np.radians(np.asarray(graph.lat, dtype=np.float64))
    lon = np.radians(np.asarray(graph.lon, dtype=np.float64))
    xyz = EARTH_RADIUS_M * np.column_stack(
        (np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat))
    )
    return _remember(_XYZ, graph, np.ascontiguousarray(xyz))


# ------------------------------------------------------------------------ wrappers


def as_seeds(
    n_nodes: int, nodes: ArrayLike, costs: ArrayLike | None = None, *, what: str = "source"
) -> tuple[Int32Array, FloatArray]:
    """Validate seed arrays; return ``(nodes int32, costs float64)``.

    Raises :class:`RequestError` for empty seeds, node ids outside the graph,
    mismatched lengths or costs that are negative or not finite.
    """
    if (
        type(nodes) is np.ndarray
        and type(costs) is np.ndarray
        and nodes.dtype == np.int32
        and costs.dtype == np.float64
        and nodes.ndim == 1
        and 0 < nodes.shape[0] <= 8
        and costs.shape == nodes.shape
        and nodes.flags.c_contiguous
        and costs.flags.c_contiguous
    ):
        # Fast path for the few seeds of a snapped point (numpy reductions cost
        # more than the query itself here); anything odd takes the full checks.
        ns, cs = nodes.tolist(), costs.tolist()
        if min(ns) >= 0 and max(ns) < n_nodes and all(0.0 <= c < math.inf for c in cs):
            return nodes, costs
    nodes_a = np.atleast_1d(np.asarray(nodes))
    if nodes_a.size == 0:
        raise RequestError(f"no {what} nodes given; pass at least one node id")
    if nodes_a.dtype.kind not in "iu":
        raise RequestError(f"{what} nodes must be integer node ids, got {nodes_a.dtype}")
    if nodes_a.min() < 0 or nodes_a.max() >= n_nodes:
        raise RequestError(
            f"{what} node id out of range: graph has nodes 0..{n_nodes - 1}, "
            f"got {int(nodes_a.min())}..{int(nodes_a.max())}"
        )
    if costs is None:
        costs_a = np.zeros(nodes_a.size)
    else:
        costs_a = np.atleast_1d(np.asarray(costs, dtype=np.float64))
        if costs_a.shape != nodes_a.shape:
            raise RequestError(
                f"{what} costs have shape {costs_a.shape} but nodes have {nodes_a.shape}; "
                "give one cost per node"
            )
        if not np.all(np.isfinite(costs_a)) or costs_a.min() < 0:
            raise RequestError(f"{what} costs must be finite and >= 0 seconds")
    return nodes_a.astype(np.int32).ravel(), np.ascontiguousarray(costs_a.ravel())


def _search(
    graph: RoadGraph,
    src: Int32Array,
    src_cost: FloatArray,
    dst: Int32Array,
    dst_cost: FloatArray,
    method: str,
) -> tuple[float, Int64Array | None, int]:
    """Run one method; return (cost, edges, start node)."""
    if method == "dijkstra":
        cost, node, parent = _dijkstra_p2p(
            graph.first_out, graph.head, graph.travel_time, src, src_cost, dst, dst_cost
        )
        if not np.isfinite(cost):
            return cost, None, -1
        edges = trace_forward(parent, graph.first_out, node)
    elif method == "astar":
        speed = max_speed_mps(graph)
        inv_speed = 0.0 if not np.isfinite(speed) or speed <= 0 else 1.0 / (speed * (1 + 1e-9))
        cost, node, parent = _astar_p2p(
            graph.first_out, graph.head, graph.travel_time, sphere_points(graph),
            inv_speed, src, src_cost, dst, dst_cost,
        )  # fmt: skip
        if not np.isfinite(cost):
            return cost, None, -1
        edges = trace_forward(parent, graph.first_out, node)
    elif method == "bidijkstra":
        rev = reverse_graph_arrays(graph)
        cost, meet, pf, pb = _bidijkstra_p2p(
            graph.first_out, graph.head, graph.travel_time,
            rev.first_in, rev.tail, rev.edge, rev.travel_time,
            src, src_cost, dst, dst_cost,
        )  # fmt: skip
        if not np.isfinite(cost):
            return cost, None, -1
        edges = np.concatenate(
            (trace_forward(pf, graph.first_out, meet), trace_backward(pb, graph.head, meet))
        )
    else:
        raise RequestError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if edges.size:
        start = int(np.searchsorted(graph.first_out, edges[0], side="right") - 1)
    else:
        start = int(node if method != "bidijkstra" else meet)
    return float(cost), edges, start


def shortest_path_cost(
    graph: RoadGraph,
    src_nodes: ArrayLike,
    src_costs: ArrayLike | None,
    dst_nodes: ArrayLike,
    dst_costs: ArrayLike | None,
    *,
    method: str = "bidijkstra",
) -> float:
    """Travel time in seconds between seed sets, ``inf`` when no route exists.

    Parameters
    ----------
    graph : RoadGraph
    src_nodes, dst_nodes : array_like of int
        Seed nodes (e.g. both ends of a snapped edge).
    src_costs, dst_costs : array_like of float or None
        Seconds already spent reaching each source seed / still needed from each
        target seed; ``None`` means zeros.
    method : {"bidijkstra", "dijkstra", "astar"}
    """
    src, sc = as_seeds(graph.n_nodes, src_nodes, src_costs, what="source")
    dst, dc = as_seeds(graph.n_nodes, dst_nodes, dst_costs, what="target")
    cost, _, _ = _search(graph, src, sc, dst, dc, method)
    return float(cost)


def shortest_path(
    graph: RoadGraph,
    src_nodes: ArrayLike,
    src_costs: ArrayLike | None,
    dst_nodes: ArrayLike,
    dst_costs: ArrayLike | None,
    *,
    method: str = "bidijkstra",
) -> PathResult:
    """Fastest path between seed sets.

    Parameters are as in :func:`shortest_path_cost`.

    Returns
    -------
    PathResult
        Cost in seconds (seed costs included), original edges and nodes.

    Raises
    ------
    NoRouteError
        When no target seed is reachable from any source seed.
    RequestError
        For malformed seeds or an unknown method.
    """
    src, sc = as_seeds(graph.n_nodes, src_nodes, src_costs, what="source")
    dst, dc = as_seeds(graph.n_nodes, dst_nodes, dst_costs, what="target")
    cost, edges, start = _search(graph, src, sc, dst, dc, method)
    if edges is None:
        raise NoRouteError(
            f"no {graph.profile} route from node(s) {src.tolist()[:4]} to node(s) "
            f"{dst.tolist()[:4]}: the target is not reachable (one-way streets or a "
            "disconnected part of the network); pick points on the main network"
        )
    return make_path(graph, cost, edges, start)


def path_between(
    graph: RoadGraph, source: int, target: int, *, method: str = "bidijkstra"
) -> PathResult:
    """Fastest path between two node ids (raises :class:`NoRouteError` if none)."""
    return shortest_path(graph, [source], None, [target], None, method=method)


def cost_between(
    graph: RoadGraph, source: int, target: int, *, method: str = "bidijkstra"
) -> float:
    """Travel time in seconds between two node ids, ``inf`` if unreachable."""
    return shortest_path_cost(graph, [source], None, [target], None, method=method)


def dijkstra_bounded(
    graph: RoadGraph,
    src_nodes: ArrayLike,
    src_costs: ArrayLike | None,
    budget_s: float = math.inf,
    *,
    reverse: bool = False,
) -> FloatArray:
    """Seconds from the nearest source seed to every node within ``budget_s``.

    Parameters
    ----------
    graph : RoadGraph
    src_nodes, src_costs : array_like
        Seeds as in :func:`shortest_path` (``src_costs`` may be ``None``).
    budget_s : float
        Largest cost of interest; nodes beyond it are ``inf``. ``inf`` = one-to-all.
    reverse : bool
        If true, search the reverse graph: the result is the cost *to* the
        nearest seed (seed costs are then the time from the seed onwards),
        e.g. walking egress times to a set of stops.

    Returns
    -------
    ndarray of float64, shape (n_nodes,)
    """
    src, sc = as_seeds(graph.n_nodes, src_nodes, src_costs, what="source")
    budget = float(budget_s)
    if not budget >= 0:
        raise RequestError(f"budget_s must be >= 0 seconds, got {budget_s}")
    no_targets = np.empty(0, dtype=np.int32)
    if reverse:
        rev = reverse_graph_arrays(graph)
        dist, _ = dijkstra_settle(
            rev.first_in, rev.tail, rev.travel_time, rev.length_m, src, sc, no_targets, budget
        )
    else:
        dist, _ = dijkstra_settle(
            graph.first_out,
            graph.head,
            graph.travel_time,
            graph.length_m,
            src,
            sc,
            no_targets,
            budget,
        )
    return dist
