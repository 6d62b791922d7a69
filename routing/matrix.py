"""Travel-time and distance matrices between sets of nodes.

With a :class:`~routing.ch.ContractionHierarchy` the bucket algorithm of
Knopp et al. (2007, "Computing many-to-many shortest paths using highway
hierarchies") is used: one backward upward search per target leaves
``(target, distance)`` entries in a bucket at every node it settles; one
forward upward search per source then scans the buckets of the nodes it
settles. Both sides use stall-on-demand. With a plain :class:`RoadGraph`,
one Dijkstra per source runs until every target is settled.

Besides seconds, each cell can carry the length in metres of the fastest
route found (what a vehicle actually drives): a companion value summed along
the same path, never minimised on its own.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from routing.arrays import FloatArray, Int32Array, Int64Array, IntArray, grow_array
from routing.ch import ContractionHierarchy
from routing.errors import RequestError
from routing.graph import RoadGraph
from routing.search import as_seeds, dijkstra_settle, heap_pop, heap_push

log = logging.getLogger(__name__)

WEIGHTS = ("time", "length")


@njit(cache=True, nogil=True)
def _ch_many_to_many(
    offsets: Int64Array, q_node: Int32Array, q_w: FloatArray, q_arc: Int32Array,
    arc_len: FloatArray, sources: IntArray, targets: IntArray,
) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    """Bucket many-to-many on the packed rank-space hierarchy.

    ``sources`` and ``targets`` are ranks. Returns ``(seconds, metres)``, each
    of shape (len(sources), len(targets)), ``inf`` where unreachable.
    """
    n = offsets.shape[0] // 2
    dist = np.full(n, np.inf)
    alen = np.zeros(n)
    pos = np.full(n, -1, dtype=np.int32)
    hn = np.empty(n, dtype=np.int32)
    hk = np.empty(n)
    touched = np.empty(n, dtype=np.int32)
    # Backward searches fill (node, target, seconds, metres) entries.
    cap = max(1024, 64 * targets.shape[0])
    e_node = np.empty(cap, dtype=np.int32)
    e_target = np.empty(cap, dtype=np.int32)
    e_dist = np.empty(cap)
    e_len = np.empty(cap)
    n_entries = 0
    for j in range(targets.shape[0]):
        t = targets[j]
        nt = 1
        touched[0] = t
        dist[t] = 0.0
        alen[t] = 0.0
        size = heap_push(hn, hk, pos, 0, t, 0.0)
        while size > 0:
            v, d, size = heap_pop(hn, hk, pos, size)
            mid = offsets[2 * v + 1]
            stalled = False
            for e in range(offsets[2 * v], mid):
                if dist[q_node[e]] + q_w[e] < d:
                    stalled = True
                    break
            if stalled:
                continue
            if n_entries == cap:
                cap *= 2
                e_node = grow_array(e_node, cap)
                e_target = grow_array(e_target, cap)
                e_dist = grow_array(e_dist, cap)
                e_len = grow_array(e_len, cap)
            e_node[n_entries] = v
            e_target[n_entries] = j
            e_dist[n_entries] = d
            e_len[n_entries] = alen[v]
            n_entries += 1
            for i in range(mid, offsets[2 * v + 2]):
                x = q_node[i]
                nd = d + q_w[i]
                if nd < dist[x]:
                    if dist[x] == np.inf:
                        touched[nt] = x
                        nt += 1
                    dist[x] = nd
                    alen[x] = alen[v] + arc_len[q_arc[i]]
                    size = heap_push(hn, hk, pos, size, x, nd)
        for i in range(nt):
            dist[touched[i]] = np.inf
            pos[touched[i]] = -1
    # Buckets: entries grouped by node (counting sort).
    b_first = np.zeros(n + 1, dtype=np.int64)
    for k in range(n_entries):
        b_first[e_node[k] + 1] += 1
    for v in range(n):
        b_first[v + 1] += b_first[v]
    fill = b_first[:-1].copy()
    b_target = np.empty(n_entries, dtype=np.int32)
    b_dist = np.empty(n_entries)
    b_len = np.empty(n_entries)
    for k in range(n_entries):
        slot = fill[e_node[k]]
        fill[e_node[k]] += 1
        b_target[slot] = e_target[k]
        b_dist[slot] = e_dist[k]
        b_len[slot] = e_len[k]
    # Forward searches scan the buckets.
    seconds = np.full((sources.shape[0], targets.shape[0]), np.inf)
    metres = np.full((sources.shape[0], targets.shape[0]), np.inf)
    for i in range(sources.shape[0]):
        s = sources[i]
        row_s = seconds[i]
        row_m = metres[i]
        nt = 1
        touched[0] = s
        dist[s] = 0.0
        alen[s] = 0.0
        size = heap_push(hn, hk, pos, 0, s, 0.0)
        while size > 0:
            v, d, size = heap_pop(hn, hk, pos, size)
            mid = offsets[2 * v + 1]
            stalled = False
            for e in range(mid, offsets[2 * v + 2]):
                if dist[q_node[e]] + q_w[e] < d:
                    stalled = True
                    break
            if stalled:
                continue
            for k in range(b_first[v], b_first[v + 1]):
                c = d + b_dist[k]
                j = b_target[k]
                if c < row_s[j]:
                    row_s[j] = c
                    row_m[j] = alen[v] + b_len[k]
            for e in range(offsets[2 * v], mid):
                x = q_node[e]
                nd = d + q_w[e]
                if nd < dist[x]:
                    if dist[x] == np.inf:
                        touched[nt] = x
                        nt += 1
                    dist[x] = nd
                    alen[x] = alen[v] + arc_len[q_arc[e]]
                    size = heap_push(hn, hk, pos, size, x, nd)
        for k in range(nt):
            dist[touched[k]] = np.inf
            pos[touched[k]] = -1
    return seconds, metres


def _nodes(n_nodes: int, nodes: ArrayLike, what: str) -> Int32Array:
    return as_seeds(n_nodes, nodes, None, what=what)[0]


def _check_weight(weight: str) -> None:
    if weight not in WEIGHTS:
        raise RequestError(f"unknown weight {weight!r}; use 'time' (seconds) or 'length' (metres)")


def one_to_many(
    graph: RoadGraph, source: int, targets: ArrayLike, *, weight: str = "time"
) -> FloatArray:
    """Cost from ``source`` to each of ``targets`` with one Dijkstra search.

    The search stops as soon as every target is settled.

    Parameters
    ----------
    graph : RoadGraph
    source : int
        Source node id.
    targets : array_like of int
        Target node ids (duplicates allowed).
    weight : {"time", "length"}
        Seconds, or metres along the fastest route.

    Returns
    -------
    ndarray of float64, shape (len(targets),)
        ``inf`` for unreachable targets.
    """
    _check_weight(weight)
    src = _nodes(graph.n_nodes, [source], "source")
    dst = _nodes(graph.n_nodes, targets, "target")
    seconds, metres = dijkstra_settle(
        graph.first_out, graph.head, graph.travel_time, graph.length_m,
        src, np.zeros(1), dst, np.inf,
    )  # fmt: skip
    costs: FloatArray = (seconds if weight == "time" else metres)[dst]
    return costs


def travel_matrices(
    router: ContractionHierarchy | RoadGraph, sources: ArrayLike, targets: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Seconds and metres (along the fastest route) between all sources and targets.

    Parameters
    ----------
    router : ContractionHierarchy or RoadGraph
        A hierarchy (bucket many-to-many, fast) or a graph (one Dijkstra per source).
    sources, targets : array_like of int
        Node ids.

    Returns
    -------
    (seconds, metres) : tuple of ndarray of float64, shape (len(sources), len(targets))
        ``inf`` where no route exists.
    """
    started = time.perf_counter()
    if isinstance(router, ContractionHierarchy):
        src = _nodes(router.n_nodes, sources, "source")
        dst = _nodes(router.n_nodes, targets, "target")
        offsets, q_node, q_w, q_arc = router.query_graph
        seconds, metres = _ch_many_to_many(
            offsets, q_node, q_w, q_arc, router.arc_length, router.rank[src], router.rank[dst]
        )
        how = "CH buckets"
    elif isinstance(router, RoadGraph):
        src = _nodes(router.n_nodes, sources, "source")
        dst = _nodes(router.n_nodes, targets, "target")
        seconds = np.empty((src.size, dst.size))
        metres = np.empty((src.size, dst.size))
        zero = np.zeros(1)
        for i in range(src.size):
            dist, length = dijkstra_settle(
                router.first_out, router.head, router.travel_time, router.length_m,
                src[i : i + 1], zero, dst, np.inf,
            )  # fmt: skip
            seconds[i], metres[i] = dist[dst], length[dst]
        how = "Dijkstra"
    else:
        raise RequestError(
            f"many_to_many needs a ContractionHierarchy or a RoadGraph, got {type(router).__name__}"
        )
    log.debug(
        "%d x %d matrix by %s in %.3f s", src.size, dst.size, how, time.perf_counter() - started
    )
    return seconds, metres


def many_to_many(
    router: ContractionHierarchy | RoadGraph,
    sources: ArrayLike,
    targets: ArrayLike,
    *,
    weight: str = "time",
) -> FloatArray:
    """Matrix of fastest-route costs from every source to every target.

    Parameters
    ----------
    router : ContractionHierarchy or RoadGraph
        A hierarchy (bucket many-to-many, fast) or a graph (one Dijkstra per source).
    sources, targets : array_like of int
        Node ids.
    weight : {"time", "length"}
        Seconds, or metres along the fastest route (use :func:`travel_matrices`
        for both at once).

    Returns
    -------
    ndarray of float64, shape (len(sources), len(targets))
        ``inf`` where no route exists.
    """
    _check_weight(weight)
    seconds, metres = travel_matrices(router, sources, targets)
    return seconds if weight == "time" else metres
