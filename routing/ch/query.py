"""Queries on a contraction hierarchy: the query graph, the search state and the query objects.

RoutingKit keeps the *query* apart from the *build* (``contraction_hierarchy.h``:
``ContractionHierarchy`` is data, ``ContractionHierarchyQuery`` holds the search
state). Here :class:`ContractionHierarchy` is the data plus the query methods;
its search state lives in a per-thread :class:`QueryState`, so one hierarchy
serves many threads without locks.

Both kinds of hierarchy are queried on one packed rank-space
:class:`QueryGraph`: node ``r``'s upward arcs are ``offsets[2r]:offsets[2r+1]``
and its downward arcs (by their higher end) ``offsets[2r+1]:offsets[2r+2]``.

* A classic hierarchy (:mod:`routing.ch.contraction`) is searched by a
  bidirectional Dijkstra with stall-on-demand (:func:`_ch_query`).
* A customized hierarchy (:mod:`routing.ch.customization`) walks the
  elimination tree instead (:func:`_etree_query`): no heap, fewer steps.

Paths are unpacked by :func:`routing.ch.unpack.unpack_path` for both.
"""

from __future__ import annotations

import math
import operator
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from routing.arrays import BoolArray, FloatArray, Int32Array, Int64Array
from routing.ch.unpack import unpack_path
from routing.errors import NoRouteError, RequestError
from routing.graph import RoadGraph
from routing.paths import PathResult, make_path
from routing.search import as_seeds, heap_pop, heap_push


class QueryGraph(NamedTuple):
    """The packed rank-space search graph of a hierarchy (see the module docstring).

    Attributes
    ----------
    offsets : ndarray of int64, shape (2n + 1,)
        Rank ``r``'s upward arcs are ``offsets[2r]:offsets[2r+1]``, its
        downward arcs ``offsets[2r+1]:offsets[2r+2]``.
    node : ndarray of int32, shape (P,)
        The other (higher-ranked) end of each entry.
    weight : ndarray of float64, shape (P,)
        Seconds of each entry (``inf`` for a closed arc of a customized hierarchy).
    arc : ndarray of int32, shape (P,)
        Global arc id of each entry (index into ``arc_edge``, ``arc_child_*``, ``arc_length``).
    """

    offsets: Int64Array
    node: Int32Array
    weight: FloatArray
    arc: Int32Array


class QueryState:
    """The search state of one thread's queries on one hierarchy.

    Attributes
    ----------
    wf : ndarray of float64, shape (4, n)
        Forward and backward distances and heap keys (distances all ``inf``
        between queries).
    wi : ndarray of int32, shape (10, n)
        Heap slots (all -1 between queries), heap nodes, parent arcs and nodes
        per direction, and the touched lists. The parent rows of the last query
        stay valid for unpacking its path.
    marks : ndarray of bool, shape (2, n) or None
        Visited flags of an elimination-tree query (allocated on first use).
    """

    __slots__ = ("marks", "wf", "wi")

    def __init__(self, n: int) -> None:
        self.wf: FloatArray = np.full((4, n), np.inf)
        self.wi: Int32Array = np.full((10, n), -1, dtype=np.int32)
        self.marks: BoolArray | None = None

    def visit_marks(self) -> BoolArray:
        """The elimination-tree visited flags (all False between queries)."""
        if self.marks is None:
            self.marks = np.zeros((2, self.wf.shape[1]), dtype=np.bool_)
        return self.marks


# ------------------------------------------------------------- query kernels


@njit(cache=True, nogil=True)
def _pack_query_graph(
    up_fo: Int64Array, up_head: Int32Array, up_w: FloatArray, up_arc: Int32Array,
    dn_fo: Int64Array, dn_tail: Int32Array, dn_w: FloatArray, dn_arc: Int32Array,
) -> tuple[Int64Array, Int32Array, FloatArray, Int32Array]:  # fmt: skip
    """Interleave the upward and downward arcs of each rank into one array set.

    Node ``r``'s upward arcs are ``offsets[2r]:offsets[2r+1]`` and its
    downward arcs (by tail) ``offsets[2r+1]:offsets[2r+2]``, so a search reads
    both (relaxing one kind, stalling with the other) from the same cache lines.
    """
    n = up_fo.shape[0] - 1
    total = up_head.shape[0] + dn_tail.shape[0]
    offsets = np.empty(2 * n + 1, dtype=np.int64)
    node = np.empty(total, dtype=np.int32)
    weight = np.empty(total)
    arc = np.empty(total, dtype=np.int32)
    k = 0
    for r in range(n):
        offsets[2 * r] = k
        for e in range(up_fo[r], up_fo[r + 1]):
            node[k] = up_head[e]
            weight[k] = up_w[e]
            arc[k] = up_arc[e]
            k += 1
        offsets[2 * r + 1] = k
        for e in range(dn_fo[r], dn_fo[r + 1]):
            node[k] = dn_tail[e]
            weight[k] = dn_w[e]
            arc[k] = dn_arc[e]
            k += 1
    offsets[2 * n] = k
    return offsets, node, weight, arc


@njit(cache=True, nogil=True)
def _ch_query(
    offsets: Int64Array, q_node: Int32Array, q_w: FloatArray, q_arc: Int32Array,
    src: Int32Array, src_cost: FloatArray, dst: Int32Array, dst_cost: FloatArray,
    wf: FloatArray, wi: Int32Array,
) -> tuple[float, int]:  # fmt: skip
    """Bidirectional upward search with stall-on-demand; return ``(cost, meet)``.

    Seeds are in rank space. Workspace rows: ``wf`` = forward/backward
    distances and heap keys (distances all inf on entry); ``wi`` = heap slots
    (all -1 on entry), heap nodes, parent arcs and nodes per direction and the
    touched lists. Distances and slots are restored before returning; the
    parent rows stay valid for the nodes of this query (for path unpacking).
    """
    df = wf[0]
    db = wf[1]
    hkf = wf[2]
    hkb = wf[3]
    posf = wi[0]
    posb = wi[1]
    hnf = wi[2]
    hnb = wi[3]
    pf_arc = wi[4]
    pf_node = wi[5]
    pb_arc = wi[6]
    pb_node = wi[7]
    tf = wi[8]
    tb = wi[9]
    nf = 0
    nb = 0
    sf = 0
    sb = 0
    for j in range(src.shape[0]):
        s = src[j]
        if src_cost[j] < df[s]:
            if df[s] == np.inf:
                tf[nf] = s
                nf += 1
            df[s] = src_cost[j]
            pf_arc[s] = -1
            pf_node[s] = -1
            sf = heap_push(hnf, hkf, posf, sf, s, src_cost[j])
    for j in range(dst.shape[0]):
        t = dst[j]
        if dst_cost[j] < db[t]:
            if db[t] == np.inf:
                tb[nb] = t
                nb += 1
            db[t] = dst_cost[j]
            pb_arc[t] = -1
            pb_node[t] = -1
            sb = heap_push(hnb, hkb, posb, sb, t, dst_cost[j])
    best = np.inf
    meet = -1
    while sf > 0 or sb > 0:
        forward = sf > 0 and (sb == 0 or hkf[0] <= hkb[0])
        if forward:
            if hkf[0] >= best:
                sf = 0
                continue
            v, d, sf = heap_pop(hnf, hkf, posf, sf)
            if d + db[v] < best:
                best = d + db[v]
                meet = v
            mid = offsets[2 * v + 1]
            stalled = False
            for i in range(mid, offsets[2 * v + 2]):
                if df[q_node[i]] + q_w[i] < d:
                    stalled = True
                    break
            if stalled:
                continue
            for e in range(offsets[2 * v], mid):
                x = q_node[e]
                nd = d + q_w[e]
                if nd < df[x]:
                    if df[x] == np.inf:
                        tf[nf] = x
                        nf += 1
                    df[x] = nd
                    pf_arc[x] = q_arc[e]
                    pf_node[x] = v
                    sf = heap_push(hnf, hkf, posf, sf, x, nd)
        else:
            if hkb[0] >= best:
                sb = 0
                continue
            v, d, sb = heap_pop(hnb, hkb, posb, sb)
            if d + df[v] < best:
                best = d + df[v]
                meet = v
            mid = offsets[2 * v + 1]
            stalled = False
            for e in range(offsets[2 * v], mid):
                if db[q_node[e]] + q_w[e] < d:
                    stalled = True
                    break
            if stalled:
                continue
            for i in range(mid, offsets[2 * v + 2]):
                x = q_node[i]
                nd = d + q_w[i]
                if nd < db[x]:
                    if db[x] == np.inf:
                        tb[nb] = x
                        nb += 1
                    db[x] = nd
                    pb_arc[x] = q_arc[i]
                    pb_node[x] = v
                    sb = heap_push(hnb, hkb, posb, sb, x, nd)
    for i in range(nf):
        df[tf[i]] = np.inf
        posf[tf[i]] = -1
    for i in range(nb):
        db[tb[i]] = np.inf
        posb[tb[i]] = -1
    return best, meet


@njit(cache=True, nogil=True)
def _ch_query_pair(
    offsets: Int64Array, q_node: Int32Array, q_w: FloatArray, q_arc: Int32Array,
    s: int, t: int, wf: FloatArray, wi: Int32Array,
) -> tuple[float, int]:  # fmt: skip
    """:func:`_ch_query` between two single ranks (fewer arguments: faster dispatch)."""
    src = np.empty(1, dtype=np.int32)
    dst = np.empty(1, dtype=np.int32)
    zero = np.zeros(1)
    src[0] = s
    dst[0] = t
    return _ch_query(offsets, q_node, q_w, q_arc, src, zero, dst, zero, wf, wi)


@njit(cache=True, nogil=True)
def _etree_side(
    offsets: Int64Array, q_node: Int32Array, q_w: FloatArray, q_arc: Int32Array,
    parent: Int32Array, seeds: Int32Array, costs: FloatArray, backward: bool,
    dist: FloatArray, p_arc: Int32Array, p_node: Int32Array, mark: BoolArray, visit: Int32Array,
) -> int:  # fmt: skip
    """Upward search of one side along the elimination tree; returns the visited count.

    Every node reachable upward from a seed is an ancestor of it in the
    elimination tree, so walking the seeds' ancestor chains in increasing rank
    and relaxing each node's upward arcs settles them all without a heap.
    """
    count = 0
    for j in range(seeds.shape[0]):
        v = seeds[j]
        if costs[j] < dist[v]:
            dist[v] = costs[j]
            p_arc[v] = -1
            p_node[v] = -1
        while v >= 0 and not mark[v]:
            mark[v] = True
            visit[count] = v
            count += 1
            v = parent[v]
    if seeds.shape[0] > 1:
        visit[:count].sort()
    for i in range(count):
        v = visit[i]
        d = dist[v]
        if d == np.inf:
            continue
        mid = offsets[2 * v + 1]
        lo = mid if backward else offsets[2 * v]
        hi = offsets[2 * v + 2] if backward else mid
        for e in range(lo, hi):
            x = q_node[e]
            nd = d + q_w[e]
            if nd < dist[x]:
                dist[x] = nd
                p_arc[x] = q_arc[e]
                p_node[x] = v
    return count


@njit(cache=True, nogil=True)
def _etree_query(
    offsets: Int64Array, q_node: Int32Array, q_w: FloatArray, q_arc: Int32Array,
    parent: Int32Array, src: Int32Array, src_cost: FloatArray, dst: Int32Array,
    dst_cost: FloatArray, wf: FloatArray, wi: Int32Array, marks: BoolArray,
) -> tuple[float, int]:  # fmt: skip
    """Exact ``(cost, meet)`` between rank-space seed sets; same workspace rows as a CH query."""
    df = wf[0]
    db = wf[1]
    mf = marks[0]
    mb = marks[1]
    vf = wi[8]
    vb = wi[9]
    nf = _etree_side(offsets, q_node, q_w, q_arc, parent, src, src_cost, False, df, wi[4], wi[5],
                     mf, vf)  # fmt: skip
    nb = _etree_side(offsets, q_node, q_w, q_arc, parent, dst, dst_cost, True, db, wi[6], wi[7],
                     mb, vb)  # fmt: skip
    best = np.inf
    meet = -1
    for i in range(nf):
        v = vf[i]
        if mb[v]:
            c = df[v] + db[v]
            if c < best:
                best = c
                meet = v
    for i in range(nf):
        v = vf[i]
        df[v] = np.inf
        mf[v] = False
    for i in range(nb):
        v = vb[i]
        db[v] = np.inf
        mb[v] = False
    return best, meet


@njit(cache=True, nogil=True)
def _etree_pair(
    offsets: Int64Array, q_node: Int32Array, q_w: FloatArray, q_arc: Int32Array,
    parent: Int32Array, s: int, t: int, wf: FloatArray, wi: Int32Array, marks: BoolArray,
) -> tuple[float, int]:  # fmt: skip
    """:func:`_etree_query` between two single ranks (fewer arguments: faster dispatch)."""
    src = np.empty(1, dtype=np.int32)
    dst = np.empty(1, dtype=np.int32)
    zero = np.zeros(1)
    src[0] = s
    dst[0] = t
    return _etree_query(offsets, q_node, q_w, q_arc, parent, src, zero, dst, zero, wf, wi, marks)


# --------------------------------------------------------------- the classes

#: The arrays of a :class:`ContractionHierarchy`, in constructor order (cache, pickling).
ARRAY_FIELDS = (
    "rank", "order", "up_first_out", "up_head", "up_weight", "up_arc",
    "down_first_out", "down_tail", "down_weight", "down_arc",
    "arc_edge", "arc_child_a", "arc_child_b", "arc_length",
)  # fmt: skip

Seeds = tuple[Int32Array, FloatArray, Int32Array, FloatArray]


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """A contraction hierarchy of one :class:`RoadGraph` (all arrays, in rank space).

    Built by :func:`routing.ch.build_ch` (witness search) or customized from a
    metric-independent structure by :func:`routing.ch.customize`.

    Attributes
    ----------
    graph : RoadGraph
        The graph it was built from (for path nodes, lengths and geometry).
    rank, order : ndarray of int32, shape (n,)
        ``rank[v]`` = contraction position of node ``v``; ``order`` is its inverse.
    up_first_out, up_head, up_weight, up_arc : ndarray
        Rank-space CSR of upward arcs (head rank > tail rank) with global arc ids.
    down_first_out, down_tail, down_weight, down_arc : ndarray
        Rank-space CSR, grouped by head, of downward arcs (tail rank > head rank).
    arc_edge : ndarray of int64
        Original edge id of each arc, ``-1`` for shortcuts.
    arc_child_a, arc_child_b : ndarray of int32
        The two arcs a shortcut replaces, in driving order (``-1`` for original arcs).
    arc_length : ndarray of float64
        Length in metres of each arc's unpacked path.
    """

    graph: RoadGraph
    rank: Int32Array
    order: Int32Array
    up_first_out: Int64Array
    up_head: Int32Array
    up_weight: FloatArray
    up_arc: Int32Array
    down_first_out: Int64Array
    down_tail: Int32Array
    down_weight: FloatArray
    down_arc: Int32Array
    arc_edge: Int64Array
    arc_child_a: Int32Array
    arc_child_b: Int32Array
    arc_length: FloatArray
    _local: threading.local = field(
        default_factory=threading.local, init=False, repr=False, compare=False
    )
    _packed: QueryGraph = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        packed = _pack_query_graph(
            self.up_first_out, self.up_head, self.up_weight, self.up_arc,
            self.down_first_out, self.down_tail, self.down_weight, self.down_arc,
        )  # fmt: skip
        object.__setattr__(self, "_packed", QueryGraph(*packed))

    def __reduce__(self) -> tuple[Any, ...]:
        # The per-thread search states and the packed arrays are rebuilt, not pickled.
        return (type(self), (self.graph, *(getattr(self, name) for name in ARRAY_FIELDS)))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.rank.shape[0])

    @property
    def n_shortcuts(self) -> int:
        """Number of shortcut arcs."""
        return int((self.arc_edge < 0).sum())

    @property
    def query_graph(self) -> QueryGraph:
        """The packed rank-space search graph (for matrix and search-space kernels)."""
        return self._packed

    def array_fields(self) -> dict[str, np.ndarray]:
        """Every array attribute by name (used by the disk cache)."""
        return {name: getattr(self, name) for name in ARRAY_FIELDS}

    def query_state(self) -> QueryState:
        """This thread's :class:`QueryState` (created on first use)."""
        state: QueryState | None = getattr(self._local, "state", None)
        if state is None:
            state = QueryState(self.n_nodes)
            self._local.state = state
        return state

    def _search(
        self, src: Int32Array, sc: FloatArray, dst: Int32Array, dc: FloatArray
    ) -> tuple[float, int, QueryState]:
        """Run the query kernel on rank-space seeds."""
        state = self.query_state()
        offsets, q_node, q_w, q_arc = self._packed
        cost, meet = _ch_query(offsets, q_node, q_w, q_arc, src, sc, dst, dc, state.wf, state.wi)
        return float(cost), int(meet), state

    def _seeds(
        self,
        src_nodes: ArrayLike,
        src_costs: ArrayLike | None,
        dst_nodes: ArrayLike,
        dst_costs: ArrayLike | None,
    ) -> Seeds:
        src, sc = as_seeds(self.n_nodes, src_nodes, src_costs, what="source")
        dst, dc = as_seeds(self.n_nodes, dst_nodes, dst_costs, what="target")
        return src, sc, dst, dc

    def query(
        self,
        src_nodes: ArrayLike,
        src_costs: ArrayLike | None,
        dst_nodes: ArrayLike,
        dst_costs: ArrayLike | None,
    ) -> float:
        """Travel time in seconds between seed sets, ``inf`` if no route exists.

        Parameters
        ----------
        src_nodes, dst_nodes : array_like of int
            Seed node ids (original numbering), e.g. both ends of a snapped edge.
        src_costs, dst_costs : array_like of float or None
            Seconds already spent reaching each source seed / still needed from
            each target seed (``None``: zeros).

        Returns
        -------
        float
            Seconds, ``inf`` when no target seed is reachable.
        """
        src, sc, dst, dc = self._seeds(src_nodes, src_costs, dst_nodes, dst_costs)
        return self._search(self.rank[src], sc, self.rank[dst], dc)[0]

    def route(
        self,
        src_nodes: ArrayLike,
        src_costs: ArrayLike | None,
        dst_nodes: ArrayLike,
        dst_costs: ArrayLike | None,
    ) -> PathResult:
        """Fastest path between seed sets with shortcuts unpacked to original edges.

        Parameters are as in :meth:`query`.

        Returns
        -------
        PathResult
            The path on the original graph's edges.

        Raises
        ------
        NoRouteError
            When no target seed is reachable.
        """
        src, sc, dst, dc = self._seeds(src_nodes, src_costs, dst_nodes, dst_costs)
        cost, meet, state = self._search(self.rank[src], sc, self.rank[dst], dc)
        return self._path(cost, meet, state, src, dst)

    def route_or_none(
        self,
        src_nodes: ArrayLike,
        src_costs: ArrayLike | None,
        dst_nodes: ArrayLike,
        dst_costs: ArrayLike | None,
    ) -> PathResult | None:
        """:meth:`route` with one search, ``None`` instead of :class:`NoRouteError`.

        For callers that compare the path's cost with another candidate (a
        point-to-point route on one edge) without searching twice.

        Returns
        -------
        PathResult or None
            ``None`` when no target seed is reachable.
        """
        src, sc, dst, dc = self._seeds(src_nodes, src_costs, dst_nodes, dst_costs)
        cost, meet, state = self._search(self.rank[src], sc, self.rank[dst], dc)
        if meet < 0 or not math.isfinite(cost):
            return None
        return self._path(cost, meet, state, src, dst)

    def _path(
        self,
        cost: float,
        meet: int,
        state: QueryState,
        src: Sequence[int] | Int32Array,
        dst: Sequence[int] | Int32Array,
    ) -> PathResult:
        """Unpack the path of the last query in ``state`` (``meet`` < 0: no route)."""
        if meet < 0:
            raise NoRouteError(
                f"no {self.graph.profile} route from node(s) {list(src)[:4]} to node(s) "
                f"{list(dst)[:4]}: the target is not reachable (one-way streets or a "
                "disconnected part of the network); pick points on the main network"
            )
        edges, start_rank = unpack_path(
            meet, state.wi, self.arc_edge, self.arc_child_a, self.arc_child_b
        )
        return make_path(self.graph, cost, edges, int(self.order[start_rank]))

    def _node(self, node: Any, what: str) -> int:
        """Rank of one node id, validated cheaply (the single-pair fast path)."""
        try:
            v = operator.index(node)
        except TypeError:
            raise RequestError(f"{what} must be an integer node id, got {node!r}") from None
        if not 0 <= v < self.rank.shape[0]:
            raise RequestError(
                f"{what} node id {v} out of range: graph has nodes 0..{self.n_nodes - 1}"
            )
        rank: int = self.rank.item(v)
        return rank

    def cost_between(self, source: int, target: int) -> float:
        """Travel time in seconds between two node ids, ``inf`` if unreachable.

        Raises
        ------
        RequestError
            When a node id is not an integer in the graph's range.
        """
        s = self._node(source, "source")
        t = self._node(target, "target")
        state = self.query_state()
        offsets, q_node, q_w, q_arc = self._packed
        cost: float = _ch_query_pair(offsets, q_node, q_w, q_arc, s, t, state.wf, state.wi)[0]
        return cost

    def path_between(self, source: int, target: int) -> PathResult:
        """Fastest path between two node ids.

        Raises
        ------
        NoRouteError
            When ``target`` is not reachable from ``source``.
        RequestError
            When a node id is not an integer in the graph's range.
        """
        s = self._node(source, "source")
        t = self._node(target, "target")
        state = self.query_state()
        offsets, q_node, q_w, q_arc = self._packed
        cost, meet = _ch_query_pair(offsets, q_node, q_w, q_arc, s, t, state.wf, state.wi)
        return self._path(cost, meet, state, [source], [target])


@dataclass(frozen=True, eq=False)
class CustomizedHierarchy(ContractionHierarchy):
    """A customized CCH: a :class:`ContractionHierarchy` whose point queries walk the
    elimination tree instead of running a heap-based search (fewer, cache-friendly steps).

    The query graph comes packed from the customization; the ``up_*`` and
    ``down_*`` CSR fields of a classic hierarchy stay empty.

    Attributes
    ----------
    parent : ndarray of int32, shape (n,)
        Elimination-tree parent of each rank (-1 at roots).
    packed : QueryGraph
        The query graph: layout shared by every customization of one structure,
        weights of this one.
    """

    parent: Int32Array = field(default=None)  # type: ignore[arg-type]
    packed: QueryGraph = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_packed", QueryGraph(*self.packed))

    def __reduce__(self) -> tuple[Any, ...]:
        arrays = (getattr(self, name) for name in ARRAY_FIELDS)
        return (type(self), (self.graph, *arrays, self.parent, self.packed))

    def _search(
        self, src: Int32Array, sc: FloatArray, dst: Int32Array, dc: FloatArray
    ) -> tuple[float, int, QueryState]:
        state = self.query_state()
        offsets, q_node, q_w, q_arc = self._packed
        cost, meet = _etree_query(
            offsets, q_node, q_w, q_arc, self.parent,
            np.ascontiguousarray(src, dtype=np.int32), np.ascontiguousarray(sc, dtype=np.float64),
            np.ascontiguousarray(dst, dtype=np.int32), np.ascontiguousarray(dc, dtype=np.float64),
            state.wf, state.wi, state.visit_marks(),
        )  # fmt: skip
        return float(cost), int(meet), state

    def _pair(self, source: int, target: int) -> tuple[float, int, QueryState]:
        s = self._node(source, "source")
        t = self._node(target, "target")
        state = self.query_state()
        offsets, q_node, q_w, q_arc = self._packed
        cost, meet = _etree_pair(
            offsets, q_node, q_w, q_arc, self.parent, s, t, state.wf, state.wi,
            state.visit_marks(),
        )  # fmt: skip
        return cost, meet, state

    def cost_between(self, source: int, target: int) -> float:
        """Travel time in seconds between two node ids, ``inf`` if unreachable."""
        return float(self._pair(source, target)[0])

    def path_between(self, source: int, target: int) -> PathResult:
        """Fastest path between two node ids (raises :class:`NoRouteError` if none)."""
        cost, meet, state = self._pair(source, target)
        return self._path(float(cost), int(meet), state, [source], [target])


__all__ = [
    "ARRAY_FIELDS",
    "ContractionHierarchy",
    "CustomizedHierarchy",
    "QueryGraph",
    "QueryState",
]
