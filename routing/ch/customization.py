"""Customizable contraction hierarchies (Dibbelt, Strasser & Wagner 2016).

A CCH separates the *structure* of a hierarchy from its *metric*:

1. **Build, once per graph** (:func:`build_cch_structure`): order the nodes by
   nested dissection (:mod:`routing.ordering`, metric-independent), contract
   them in that order without witness searches (every pair of upper
   neighbours of a contracted node becomes an edge: the *chordal supergraph*),
   and list every *lower triangle* ``(v, a, b)`` with ``v`` below ``a`` below
   ``b``.
2. **Customize, whenever weights change** (:func:`customize`): give every
   hierarchy arc the lightest original edge on it, then relax its lower
   triangles bottom-up (``w(a->b) <= w(a->v) + w(v->b)``). One linear pass
   in a numba kernel: milliseconds on a city, for any number of changed
   weights (one closure or every road slowed).

The customized hierarchy is a :class:`~routing.ch.query.CustomizedHierarchy`
(upward and downward arcs in rank space, shortcuts with their two halves), so
every query, matrix, path-unpacking and search-space algorithm of
:mod:`routing.ch.query`, :mod:`routing.matrix` and ``fleet.online.travel``
runs on it unchanged and stays exact under any live state. Arc directions that
no weights can make finite (no path that way) are left out of the query graph
once (:class:`MetricLayout`); a closed arc stays in it with an infinite weight,
so every customization shares one query-graph layout and writes only weights.
A small change re-customizes only the arcs it reaches (*partial
customization*, as in RoutingKit): the changed arcs, then, bottom-up, the arcs
whose triangles read an arc whose weight changed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields, replace

import numpy as np
from numba import njit

from routing.arrays import BoolArray, FloatArray, Int32Array, Int64Array, IntArray
from routing.ch.query import ContractionHierarchy, CustomizedHierarchy, QueryGraph
from routing.errors import DataError
from routing.geo import LocalPlane
from routing.graph import RoadGraph
from routing.ordering import nested_dissection_order

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CCHStructure:
    """The metric-independent part of a CCH (all arrays; built once, cached).

    Attributes
    ----------
    rank, order : ndarray of int32, shape (n,)
        ``rank[v]`` = position of node ``v`` in the contraction order; ``order`` inverts it.
    first_up : ndarray of int64, shape (n + 1,)
        CSR by lower rank of the hierarchy's undirected edges.
    up_head : ndarray of int32, shape (E,)
        Higher rank of each edge (sorted within each lower rank).
    tri_first : ndarray of int64, shape (n + 1,)
        Triangles grouped by their lowest rank ``v``.
    tri_va, tri_vb, tri_ab : ndarray of int32, shape (T,)
        Edge ids of each lower triangle ``v < a < b``.
    arc_cch : ndarray of int32, shape (m,)
        The hierarchy edge of each original graph edge.
    arc_up : ndarray of bool, shape (m,)
        Whether the original edge runs from the lower to the higher rank.
    """

    rank: Int32Array
    order: Int32Array
    first_up: Int64Array
    up_head: Int32Array
    tri_first: Int64Array
    tri_va: Int32Array
    tri_vb: Int32Array
    tri_ab: Int32Array
    arc_cch: Int32Array
    arc_up: BoolArray

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.rank.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of undirected hierarchy edges (original and fill-in)."""
        return int(self.up_head.shape[0])

    @property
    def n_triangles(self) -> int:
        """Number of lower triangles relaxed per customization."""
        return int(self.tri_va.shape[0])

    def array_fields(self) -> dict[str, np.ndarray]:
        """Every array by name (for the disk cache)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


# ------------------------------------------------------------------------ build


def _chordal_edges(n: int, lo: IntArray, hi: IntArray) -> tuple[Int64Array, Int32Array]:
    """CSR (first_up, up_head) of the chordal supergraph in rank space.

    Contracting ``v`` joins its upper neighbours into a clique; adding them to
    the neighbour set of the lowest one is enough (the rest follows when that
    one is contracted).
    """
    upper: list[set[int]] = [set() for _ in range(n)]
    for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
        upper[a].add(b)
    for v in range(n):
        nbrs = upper[v]
        if len(nbrs) > 1:
            u = min(nbrs)
            target = upper[u]
            target.update(nbrs)
            target.discard(u)
    counts = np.fromiter((len(s) for s in upper), dtype=np.int64, count=n)
    first = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=first[1:])
    head = np.empty(int(first[-1]), dtype=np.int32)
    for v in range(n):
        if counts[v]:
            head[first[v] : first[v + 1]] = sorted(upper[v])
    return first, head


@njit(cache=True)
def _find_edge(first_up: Int64Array, up_head: Int32Array, a: int, b: int) -> int:
    """Id of the edge ``{a, b}`` (a below b) by binary search, -1 if absent."""
    lo: int = first_up[a]
    hi = first_up[a + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if up_head[mid] < b:
            lo = mid + 1
        else:
            hi = mid
    if lo < first_up[a + 1] and up_head[lo] == b:
        return lo
    return -1


@njit(cache=True)
def _triangles(
    first_up: Int64Array, up_head: Int32Array
) -> tuple[Int64Array, Int32Array, Int32Array, Int32Array]:
    """Lower triangles grouped by their lowest node: (tri_first, va, vb, ab)."""
    n = first_up.shape[0] - 1
    tri_first = np.zeros(n + 1, dtype=np.int64)
    for v in range(n):
        d = first_up[v + 1] - first_up[v]
        tri_first[v + 1] = tri_first[v] + d * (d - 1) // 2
    total = tri_first[n]
    va = np.empty(total, dtype=np.int32)
    vb = np.empty(total, dtype=np.int32)
    ab = np.empty(total, dtype=np.int32)
    k = 0
    for v in range(n):
        for i in range(first_up[v], first_up[v + 1]):
            a = up_head[i]
            for j in range(i + 1, first_up[v + 1]):
                b = up_head[j]
                va[k] = i
                vb[k] = j
                ab[k] = _find_edge(first_up, up_head, a, b)
                k += 1
    return tri_first, va, vb, ab


@njit(cache=True)
def _map_arcs(
    first_up: Int64Array, up_head: Int32Array, rank: Int32Array, tails: Int64Array,
    heads: Int64Array,
) -> tuple[Int32Array, BoolArray]:  # fmt: skip
    """Hierarchy edge and direction of every original arc."""
    m = tails.shape[0]
    edge = np.empty(m, dtype=np.int32)
    up = np.empty(m, dtype=np.bool_)
    for k in range(m):
        a = rank[tails[k]]
        b = rank[heads[k]]
        if a == b:  # a self loop is never on a shortest path
            edge[k] = -1
            up[k] = False
        elif a < b:
            edge[k] = _find_edge(first_up, up_head, a, b)
            up[k] = True
        else:
            edge[k] = _find_edge(first_up, up_head, b, a)
            up[k] = False
    return edge, up


def build_cch_structure(graph: RoadGraph) -> CCHStructure:
    """Order, contract and triangulate ``graph`` (metric-independent; see module docstring).

    Self loops are left out (never on a shortest path).

    Parameters
    ----------
    graph : RoadGraph
        The graph; only its topology and coordinates are read.

    Returns
    -------
    CCHStructure
        Customize it with :func:`customize` for any weights of ``graph``.
    """
    started = time.perf_counter()
    n = graph.n_nodes
    tails = graph.tail().astype(np.int64)
    heads = np.asarray(graph.head, dtype=np.int64)
    plane = LocalPlane(float(np.mean(graph.lat)) if n else 0.0)
    x, y = plane.to_xy(np.asarray(graph.lat), np.asarray(graph.lon))
    order = nested_dissection_order(n, tails, heads, x, y).astype(np.int32)
    rank = np.empty(n, dtype=np.int32)
    rank[order] = np.arange(n, dtype=np.int32)
    loops = tails == heads
    ra, rb = rank[tails[~loops]], rank[heads[~loops]]
    lo, hi = np.minimum(ra, rb), np.maximum(ra, rb)
    pairs = np.unique(np.stack((lo, hi), axis=1), axis=0) if lo.size else np.zeros((0, 2), int)
    first_up, up_head = _chordal_edges(n, pairs[:, 0], pairs[:, 1])
    tri_first, va, vb, ab = _triangles(first_up, up_head)
    arc_cch, arc_up = _map_arcs(first_up, up_head, rank, tails, heads)
    structure = CCHStructure(
        rank=rank,
        order=order,
        first_up=first_up,
        up_head=up_head,
        tri_first=tri_first,
        tri_va=va,
        tri_vb=vb,
        tri_ab=ab,
        arc_cch=arc_cch,
        arc_up=arc_up,
    )
    log.info(
        "built %s CCH: %s nodes, %s edges (%s original arcs), %s triangles in %.1f s",
        graph.profile,
        f"{n:,}",
        f"{structure.n_edges:,}",
        f"{graph.n_edges:,}",
        f"{structure.n_triangles:,}",
        time.perf_counter() - started,
    )
    return structure


def structure_parent(structure: CCHStructure) -> Int32Array:
    """Elimination-tree parents of a structure (computed once, kept on the structure).

    Parameters
    ----------
    structure : CCHStructure
        The structure.

    Returns
    -------
    ndarray of int32, shape (n,)
        Parent rank of each rank, -1 at roots.
    """
    cached: Int32Array | None = structure.__dict__.get("_parent")
    if cached is None:
        cached = _etree_parent(structure.first_up, structure.up_head)
        object.__setattr__(structure, "_parent", cached)
    return cached


def _etree_parent(first_up: Int64Array, up_head: Int32Array) -> Int32Array:
    """Elimination-tree parent of each rank: its lowest upper neighbour (-1 at roots)."""
    n = first_up.shape[0] - 1
    has = first_up[1:] > first_up[:-1]
    parent = np.full(n, -1, dtype=np.int32)
    parent[has] = up_head[first_up[:-1][has]]
    return parent


# ------------------------------------------------------------------ customize


@dataclass(frozen=True)
class MetricLayout:
    """Metric-independent index of the customization and the packed query graph.

    Every hierarchy edge has an upward and a downward direction; a direction
    that no metric can make finite (no path that way, e.g. against one-way
    streets) is dropped once. The rest are numbered in the packed query-graph
    order: node ``r``'s upward arcs are ``offsets[2r]:offsets[2r+1]``, its
    downward arcs (by their higher end) ``offsets[2r+1]:offsets[2r+2]``. That
    number is the arc id of every customized hierarchy of the structure, so the
    query graph (``offsets``, ``node``, ``arc``) is shared and a customization
    only writes per-arc arrays.

    Attributes
    ----------
    offsets : ndarray of int64, shape (2n + 1,)
    node : ndarray of int32, shape (P,)
        The other (higher) end of each arc.
    arc : ndarray of int32, shape (P,)
        ``arange(P)``: the arc ids in query-graph order.
    in_first, in_arc : ndarray
        CSR by arc of the original graph edges lying on it, by increasing id.
    pull_first, pull_x, pull_y : ndarray
        CSR by arc of its lower triangles as arc pairs ``x`` then ``y`` (the
        arc's two halves in driving order), by increasing lowest node.
    push_first, push_to : ndarray
        CSR by arc of the arcs whose triangles read it (inverse of the pulls).
    edge_arc : ndarray of int32, shape (m,)
        The arc of each original edge (-1 for self loops).
    """

    offsets: Int64Array
    node: Int32Array
    arc: Int32Array
    in_first: Int64Array
    in_arc: Int32Array
    pull_first: Int64Array
    pull_x: Int32Array
    pull_y: Int32Array
    push_first: Int64Array
    push_to: Int32Array
    edge_arc: Int32Array

    @property
    def n_arcs(self) -> int:
        """Number of arcs (P)."""
        return int(self.node.shape[0])


@njit(cache=True, nogil=True)
def _csr(keys: IntArray, n_keys: int) -> tuple[Int64Array, Int64Array]:
    """``first`` (n_keys + 1) and a stable permutation grouping ``keys`` (-1 = left out)."""
    first = np.zeros(n_keys + 1, dtype=np.int64)
    for i in range(keys.shape[0]):
        if keys[i] >= 0:
            first[keys[i] + 1] += 1
    for k in range(n_keys):
        first[k + 1] += first[k]
    fill = first[:-1].copy()
    perm = np.empty(first[n_keys], dtype=np.int64)
    for i in range(keys.shape[0]):
        k = keys[i]
        if k >= 0:
            perm[fill[k]] = i
            fill[k] += 1
    return first, perm


@njit(cache=True, nogil=True)
def _layout_arrays(
    first_up: Int64Array, up_head: Int32Array, tri_first: Int64Array, tri_va: Int32Array,
    tri_vb: Int32Array, tri_ab: Int32Array, arc_cch: Int32Array, arc_up: BoolArray,
) -> tuple[
    Int64Array, Int32Array, Int64Array, Int32Array, Int64Array, Int32Array, Int32Array,
    Int64Array, Int32Array, Int32Array,
]:  # fmt: skip
    """The arrays of :class:`MetricLayout` (see there)."""
    n = first_up.shape[0] - 1
    n_e = up_head.shape[0]
    # Which directions can be finite: the customization with every weight finite.
    fin = np.zeros((n_e, 2), dtype=np.bool_)
    for k in range(arc_cch.shape[0]):
        if arc_cch[k] >= 0:
            fin[arc_cch[k], 0 if arc_up[k] else 1] = True
    for t in range(tri_ab.shape[0]):
        if fin[tri_va[t], 1] and fin[tri_vb[t], 0]:
            fin[tri_ab[t], 0] = True
        if fin[tri_vb[t], 1] and fin[tri_va[t], 0]:
            fin[tri_ab[t], 1] = True
    pos = np.full((n_e, 2), -1, dtype=np.int32)
    offsets = np.empty(2 * n + 1, dtype=np.int64)
    p = 0
    for v in range(n):
        offsets[2 * v] = p
        for e in range(first_up[v], first_up[v + 1]):
            if fin[e, 0]:
                pos[e, 0] = p
                p += 1
        offsets[2 * v + 1] = p
        for e in range(first_up[v], first_up[v + 1]):
            if fin[e, 1]:
                pos[e, 1] = p
                p += 1
    offsets[2 * n] = p
    node = np.empty(p, dtype=np.int32)
    for e in range(n_e):
        for d in range(2):
            if pos[e, d] >= 0:
                node[pos[e, d]] = up_head[e]
    edge_arc = np.full(arc_cch.shape[0], -1, dtype=np.int32)
    for k in range(arc_cch.shape[0]):
        if arc_cch[k] >= 0:
            edge_arc[k] = pos[arc_cch[k], 0 if arc_up[k] else 1]
    in_first, in_arc = _csr(edge_arc, p)
    # Lower triangles per arc, in triangle order (= increasing lowest node).
    n_t = tri_ab.shape[0]
    tgt = np.full(2 * n_t, -1, dtype=np.int64)
    px = np.empty(2 * n_t, dtype=np.int32)
    py = np.empty(2 * n_t, dtype=np.int32)
    for t in range(n_t):
        va, vb, ab = tri_va[t], tri_vb[t], tri_ab[t]
        x, y = pos[va, 1], pos[vb, 0]  # a -> v -> b
        if pos[ab, 0] >= 0 and x >= 0 and y >= 0:
            tgt[2 * t], px[2 * t], py[2 * t] = pos[ab, 0], x, y
        x, y = pos[vb, 1], pos[va, 0]  # b -> v -> a
        if pos[ab, 1] >= 0 and x >= 0 and y >= 0:
            tgt[2 * t + 1], px[2 * t + 1], py[2 * t + 1] = pos[ab, 1], x, y
    pull_first, perm = _csr(tgt, p)
    pull_x = px[perm]
    pull_y = py[perm]
    # Inverse: which arcs read arc x or y.
    n_pull = perm.shape[0]
    src = np.empty(2 * n_pull, dtype=np.int64)
    dst = np.empty(2 * n_pull, dtype=np.int32)
    for k in range(p):
        for i in range(pull_first[k], pull_first[k + 1]):
            src[2 * i] = pull_x[i]
            src[2 * i + 1] = pull_y[i]
            dst[2 * i] = k
            dst[2 * i + 1] = k
    push_first, perm2 = _csr(src, p)
    push_to = dst[perm2]
    return (offsets, node, in_first, in_arc.astype(np.int32), pull_first, pull_x, pull_y,
            push_first, push_to, edge_arc)  # fmt: skip


def metric_layout(structure: CCHStructure) -> MetricLayout:
    """The :class:`MetricLayout` of a structure (computed once, kept on the structure).

    Parameters
    ----------
    structure : CCHStructure
        The structure.

    Returns
    -------
    MetricLayout
        Shared, read-only: every customization of ``structure`` uses it.
    """
    cached: MetricLayout | None = structure.__dict__.get("_layout")
    if cached is None:
        s = structure
        arrays = _layout_arrays(
            s.first_up, s.up_head, s.tri_first, s.tri_va, s.tri_vb, s.tri_ab, s.arc_cch, s.arc_up
        )
        offsets, node, in_first, in_arc, pull_first, pull_x, pull_y, push_first, push_to, ea = (
            arrays
        )
        cached = MetricLayout(
            offsets=offsets, node=node, arc=np.arange(node.shape[0], dtype=np.int32),
            in_first=in_first, in_arc=in_arc, pull_first=pull_first, pull_x=pull_x,
            pull_y=pull_y, push_first=push_first, push_to=push_to, edge_arc=ea,
        )  # fmt: skip
        for array in arrays:
            array.flags.writeable = False  # shared by every customized hierarchy
        object.__setattr__(structure, "_layout", cached)
    return cached


@njit(cache=True, nogil=True, inline="always")
def _relax(
    k: int, in_first: Int64Array, in_arc: Int32Array, pull_first: Int64Array, pull_x: Int32Array,
    pull_y: Int32Array,
    weight: FloatArray, length: FloatArray,
    w: FloatArray, ln: FloatArray, edge: Int64Array, ca: Int32Array, cb: Int32Array,
) -> bool:  # fmt: skip
    """Customize arc ``k`` from its original edges and lower triangles (all final).

    The lightest original edge wins, then each triangle in order if strictly
    lighter: full and partial customization make the same choices. Returns
    whether the weight or length of ``k`` changed.
    """
    best = np.inf
    best_ln = 0.0
    best_edge = -1
    best_a = -1
    best_b = -1
    for i in range(in_first[k], in_first[k + 1]):
        a = in_arc[i]
        if weight[a] < best:
            best = weight[a]
            best_ln = length[a]
            best_edge = a
    for i in range(pull_first[k], pull_first[k + 1]):
        x = pull_x[i]
        y = pull_y[i]
        c = w[x] + w[y]
        if c < best:
            best = c
            best_ln = ln[x] + ln[y]
            best_edge = -1
            best_a = x
            best_b = y
    changed: bool = best != w[k] or best_ln != ln[k]
    w[k] = best
    ln[k] = best_ln
    edge[k] = best_edge
    ca[k] = best_a
    cb[k] = best_b
    return changed


@njit(cache=True, nogil=True)
def _customize_full(
    in_first: Int64Array, in_arc: Int32Array, pull_first: Int64Array, pull_x: Int32Array,
    pull_y: Int32Array,
    weight: FloatArray, length: FloatArray,
    w: FloatArray, ln: FloatArray, edge: Int64Array, ca: Int32Array, cb: Int32Array,
) -> None:  # fmt: skip
    """Customize every arc, bottom-up (arcs are numbered by their lower end)."""
    for k in range(w.shape[0]):
        _relax(k, in_first, in_arc, pull_first, pull_x, pull_y, weight, length, w, ln, edge, ca, cb)


@njit(cache=True, nogil=True)
def _customize_partial(
    in_first: Int64Array, in_arc: Int32Array, pull_first: Int64Array, pull_x: Int32Array,
    pull_y: Int32Array,
    push_first: Int64Array, push_to: Int32Array, edge_arc: Int32Array, changed_edges: Int64Array,
    weight: FloatArray, length: FloatArray,
    w: FloatArray, ln: FloatArray, edge: Int64Array, ca: Int32Array, cb: Int32Array,
    max_arcs: int,
) -> int:  # fmt: skip
    """Re-customize the arcs of ``changed_edges`` and what depends on them; return the count.

    ``w``, ``ln``, ``edge``, ``ca`` and ``cb`` (per arc, updated in place)
    hold an exact customization for weights that differ from ``weight`` only
    on ``changed_edges``. An arc is recomputed when an input it reads changed;
    the arcs that read it follow only if its weight or length changed. Once
    more than ``max_arcs`` arcs are recomputed or waiting (a change that
    reaches much of the hierarchy), every remaining arc is recomputed in one
    sweep instead (no bookkeeping). The result equals :func:`_customize_full`
    for ``weight``.
    """
    p: int = w.shape[0]
    dirty = np.zeros(p, dtype=np.bool_)
    lo = p
    pending = 0
    for i in range(changed_edges.shape[0]):
        k: int = edge_arc[changed_edges[i]]
        if k >= 0 and not dirty[k]:
            dirty[k] = True
            pending += 1
            lo = min(lo, k)
    done = 0
    k = lo
    while pending > 0:
        if done + pending > max_arcs:
            for j in range(k, p):
                _relax(j, in_first, in_arc, pull_first, pull_x, pull_y, weight, length, w, ln,
                       edge, ca, cb)  # fmt: skip
            return done + p - k
        if dirty[k]:
            pending -= 1
            done += 1
            if _relax(k, in_first, in_arc, pull_first, pull_x, pull_y, weight, length, w, ln,
                      edge, ca, cb):  # fmt: skip
                for i in range(push_first[k], push_first[k + 1]):
                    j = push_to[i]
                    if not dirty[j]:
                        dirty[j] = True
                        pending += 1
        k += 1
    return done


#: Partial customization when at most this share of the original edges changed
#: (above it the changes reach most arcs and one full pass is cheaper).
PARTIAL_MAX_SHARE = 0.02
#: A partial customization sweeps the rest of the hierarchy in full once this
#: share of its arcs is to be recomputed.
PARTIAL_MAX_ARCS = 0.1


def customize(
    structure: CCHStructure,
    graph: RoadGraph,
    weight: FloatArray | None = None,
    *,
    start: ContractionHierarchy | None = None,
) -> CustomizedHierarchy:
    """A hierarchy of ``graph`` exact for ``weight`` (default: its travel times).

    Parameters
    ----------
    structure : CCHStructure
        Built from ``graph`` (same nodes and edges).
    graph : RoadGraph
        The graph; paths are unpacked onto its edges and lengths.
    weight : ndarray of float64, shape (m,), optional
        Seconds per edge, ``inf`` for a closed edge.
    start : ContractionHierarchy, optional
        A hierarchy customized from ``structure`` before (e.g. for the base
        weights). When few edges differ from its weights, only the arcs those
        edges reach are re-customized (the result is the same as a full
        customization); otherwise, or when ``start`` is not of this structure,
        all arcs are.

    Returns
    -------
    CustomizedHierarchy
        Whose ``graph`` carries ``weight`` as its travel times.
    """
    w = np.ascontiguousarray(graph.travel_time if weight is None else weight, dtype=np.float64)
    if w.shape != (graph.n_edges,):
        raise DataError(f"weights have shape {w.shape}, expected ({graph.n_edges},)")
    length = np.ascontiguousarray(graph.length_m, dtype=np.float64)
    lay = metric_layout(structure)
    changed = _changed_edges(lay, start, w)
    if changed is not None:
        assert isinstance(start, CustomizedHierarchy)
        q_w = start.packed.weight.copy()
        arc_len = start.arc_length.copy()
        arc_edge = start.arc_edge.copy()
        arc_ca = start.arc_child_a.copy()
        arc_cb = start.arc_child_b.copy()
        _customize_partial(
            lay.in_first, lay.in_arc, lay.pull_first, lay.pull_x, lay.pull_y, lay.push_first,
            lay.push_to, lay.edge_arc, changed, w, length, q_w, arc_len, arc_edge, arc_ca,
            arc_cb, int(PARTIAL_MAX_ARCS * lay.n_arcs),
        )  # fmt: skip
    else:
        p = lay.n_arcs
        q_w, arc_len = np.empty(p), np.empty(p)
        arc_edge = np.empty(p, dtype=np.int64)
        arc_ca, arc_cb = np.empty(p, dtype=np.int32), np.empty(p, dtype=np.int32)
        _customize_full(
            lay.in_first, lay.in_arc, lay.pull_first, lay.pull_x, lay.pull_y, w, length,
            q_w, arc_len, arc_edge, arc_ca, arc_cb,
        )  # fmt: skip
    if weight is not None:
        graph = replace(graph, travel_time=w)
    none_i, none_f = np.zeros(0, np.int32), np.zeros(0)
    first = np.zeros(1, np.int64)
    s = structure
    return CustomizedHierarchy(
        graph, s.rank, s.order,
        first, none_i, none_f, none_i, first, none_i, none_f, none_i,
        arc_edge, arc_ca, arc_cb, arc_len,
        parent=structure_parent(s),
        packed=QueryGraph(lay.offsets, lay.node, q_w, lay.arc),
    )  # fmt: skip


def _changed_edges(
    layout: MetricLayout, start: ContractionHierarchy | None, weight: FloatArray
) -> Int64Array | None:
    """Edges whose weight differs from ``start``'s, or ``None`` for a full customization."""
    if not isinstance(start, CustomizedHierarchy) or start.packed.offsets is not layout.offsets:
        return None
    before = np.asarray(start.graph.travel_time)
    if before.shape != weight.shape:
        return None
    changed = np.flatnonzero(before != weight)
    if changed.shape[0] > PARTIAL_MAX_SHARE * weight.shape[0]:
        return None
    return changed


__all__ = [
    "PARTIAL_MAX_ARCS",
    "PARTIAL_MAX_SHARE",
    "CCHStructure",
    "MetricLayout",
    "build_cch_structure",
    "customize",
    "metric_layout",
    "structure_parent",
]
