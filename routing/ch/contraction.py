"""Building a classic contraction hierarchy by witness search (Geisberger et al. 2008).

The road networks are served by *customizable* hierarchies
(:mod:`routing.ch.customization`), which share this hierarchy's query side
(:mod:`routing.ch.query`) but use a metric-independent contraction order. This
builder stays as the reference for tests and small graphs.

Preprocessing contracts nodes one by one in order of a priority (edge
difference, contracted neighbours, level; lazily re-checked on pop, and the
neighbours of a contracted node are re-evaluated). Contracting ``v`` adds a
shortcut ``u -> w`` for each pair of neighbours unless a *witness* path
``u -> w`` avoiding ``v`` is no longer. Witness searches are bounded by a
settled-node and a hop limit; a search cut short simply adds a shortcut that
was not needed, so the hierarchy stays exact.

The result is stored in *rank space* (node ``v`` becomes ``rank[v]``, which
puts the often-visited top of the hierarchy together in memory):

* ``up_*``: CSR of arcs ``r -> s`` with ``s > r`` (the forward search graph);
* ``down_*``: CSR, by head, of arcs ``s -> r`` with ``s > r`` (the backward
  search graph, also used to stall forward labels).

Every arc has a global id: ``arc_edge`` holds the original edge id or ``-1``
for a shortcut, whose two halves are ``arc_child_a`` then ``arc_child_b``;
``arc_length`` carries the length in metres so matrices can report distances
along the fastest route.
"""

from __future__ import annotations

import logging
import time

import numpy as np
from numba import njit

from routing.arrays import FloatArray, Int32Array, Int64Array, grow_array
from routing.ch.query import ContractionHierarchy
from routing.errors import DataError
from routing.graph import RoadGraph
from routing.search import heap_pop, heap_push, heap_sift_down

log = logging.getLogger(__name__)

# Witness search limits: while estimating priorities (cheap, approximate) and
# while contracting (more thorough: fewer superfluous shortcuts).
SIM_SETTLE_LIMIT = 30
SIM_HOP_LIMIT = 3
CONTRACT_SETTLE_LIMIT = 200
CONTRACT_HOP_LIMIT = 6
# Priority = weights . (edge difference, contracted neighbours, level)
PRIORITY_WEIGHTS = (2.0, 1.0, 1.0)

#: The arrays :func:`_freeze` returns, in :class:`ContractionHierarchy` order.
Frozen = tuple[
    Int32Array, Int32Array, Int64Array, Int32Array, FloatArray, Int32Array,
    Int64Array, Int32Array, FloatArray, Int32Array,
    Int64Array, Int32Array, Int32Array, FloatArray,
]  # fmt: skip


# ------------------------------------------------------------ dynamic adjacency
# Each node owns a block [beg, beg + cap) of a shared pool; ``len`` entries are
# used. A full block moves to the end of the pool with twice the room.


@njit(cache=True, nogil=True)
def _adj_append(
    beg: Int64Array, ln: Int64Array, cap: Int64Array, nbr: Int32Array, arc: Int32Array,
    used: int, v: int, x: int, a: int,
) -> tuple[Int32Array, Int32Array, int]:  # fmt: skip
    if ln[v] == cap[v]:
        new_cap = max(4, 2 * cap[v])
        if used + new_cap > nbr.shape[0]:
            size = max(2 * nbr.shape[0], used + new_cap)
            nbr = grow_array(nbr, size)
            arc = grow_array(arc, size)
        b = beg[v]
        for i in range(ln[v]):
            nbr[used + i] = nbr[b + i]
            arc[used + i] = arc[b + i]
        beg[v] = used
        cap[v] = new_cap
        used += new_cap
    i = beg[v] + ln[v]
    nbr[i] = x
    arc[i] = a
    ln[v] += 1
    return nbr, arc, used


@njit(cache=True, nogil=True)
def _adj_find(beg: Int64Array, ln: Int64Array, nbr: Int32Array, v: int, x: int) -> int:
    for i in range(beg[v], beg[v] + ln[v]):
        if nbr[i] == x:
            return i
    return -1


@njit(cache=True, nogil=True)
def _adj_remove(
    beg: Int64Array, ln: Int64Array, nbr: Int32Array, arc: Int32Array, v: int, x: int
) -> None:
    i = _adj_find(beg, ln, nbr, v, x)
    if i >= 0:
        last = beg[v] + ln[v] - 1
        nbr[i] = nbr[last]
        arc[i] = arc[last]
        ln[v] -= 1


# -------------------------------------------------------------- witness search


@njit(cache=True, nogil=True)
def _witness_search(
    src: int, skip: int, max_cost: float, settle_limit: int, hop_limit: int, n_targets: int,
    stamp: int,
    o_beg: Int64Array, o_len: Int64Array, o_nbr: Int32Array, o_arc: Int32Array, a_w: FloatArray,
    dist: FloatArray, hops: Int32Array, pos: Int32Array, hn: Int32Array, hk: FloatArray,
    touched: Int32Array, tflag: Int64Array,
) -> int:  # fmt: skip
    """Bounded Dijkstra from ``src`` avoiding ``skip``; return the number of touched nodes.

    Stops when the next key exceeds ``max_cost``, when all ``n_targets``
    flagged nodes (``tflag == stamp``) are settled, or at the settle limit.
    Nodes more than ``hop_limit`` arcs away from ``src`` are not expanded.
    Every distance found is a real path length, so a cut-short search can
    only miss witnesses, never invent them.
    """
    nt = 0
    dist[src] = 0.0
    hops[src] = 0
    touched[nt] = src
    nt += 1
    size = heap_push(hn, hk, pos, 0, src, 0.0)
    settled = 0
    remaining = n_targets
    while size > 0:
        x, d, size = heap_pop(hn, hk, pos, size)
        if d > max_cost:
            break
        if x != src and tflag[x] == stamp:
            remaining -= 1
            if remaining == 0:
                break
        settled += 1
        if settled >= settle_limit:
            break
        if hops[x] >= hop_limit:
            continue
        for i in range(o_beg[x], o_beg[x] + o_len[x]):
            y = o_nbr[i]
            if y == skip:
                continue
            nd = d + a_w[o_arc[i]]
            if nd <= max_cost and nd < dist[y]:
                if dist[y] == np.inf:
                    touched[nt] = y
                    nt += 1
                dist[y] = nd
                hops[y] = hops[x] + 1
                size = heap_push(hn, hk, pos, size, y, nd)
    return nt


@njit(cache=True, nogil=True)
def _reset(nt: int, touched: Int32Array, dist: FloatArray, pos: Int32Array) -> None:
    for i in range(nt):
        dist[touched[i]] = np.inf
        pos[touched[i]] = -1


@njit(cache=True, nogil=True)
def _shortcuts(
    v: int, settle_limit: int, hop_limit: int, record: bool, stamp: int,
    o_beg: Int64Array, o_len: Int64Array, o_nbr: Int32Array, o_arc: Int32Array,
    i_beg: Int64Array, i_len: Int64Array, i_nbr: Int32Array, i_arc: Int32Array, a_w: FloatArray,
    dist: FloatArray, hops: Int32Array, pos: Int32Array, hn: Int32Array, hk: FloatArray,
    touched: Int32Array, tflag: Int64Array,
    sc_u: Int32Array, sc_w: Int32Array, sc_a1: Int32Array, sc_a2: Int32Array,
) -> int:  # fmt: skip
    """Count (and with ``record`` store) the shortcuts contracting ``v`` needs."""
    for i in range(o_beg[v], o_beg[v] + o_len[v]):
        tflag[o_nbr[i]] = stamp
    count = 0
    for j in range(i_beg[v], i_beg[v] + i_len[v]):
        u = i_nbr[j]
        a1 = i_arc[j]
        max_cost = -1.0
        n_targets = 0
        for i in range(o_beg[v], o_beg[v] + o_len[v]):
            if o_nbr[i] != u:
                max_cost = max(max_cost, a_w[a1] + a_w[o_arc[i]])
                n_targets += 1
        if n_targets == 0:
            continue
        nt = _witness_search(
            u, v, max_cost, settle_limit, hop_limit, n_targets, stamp,
            o_beg, o_len, o_nbr, o_arc, a_w,
            dist, hops, pos, hn, hk, touched, tflag,
        )  # fmt: skip
        for i in range(o_beg[v], o_beg[v] + o_len[v]):
            w = o_nbr[i]
            if w == u:
                continue
            if dist[w] > a_w[a1] + a_w[o_arc[i]]:
                if record:
                    sc_u[count] = u
                    sc_w[count] = w
                    sc_a1[count] = a1
                    sc_a2[count] = o_arc[i]
                count += 1
        _reset(nt, touched, dist, pos)
    return count


# ------------------------------------------------------------------ contraction


@njit(cache=True, nogil=True)
def _contract(
    n: int, tails: Int32Array, heads: Int32Array, weights: FloatArray, lengths: FloatArray,
    edges: Int64Array, sim_settle: int, sim_hops: int, con_settle: int, con_hops: int,
    c_ed: float, c_cn: float, c_lv: float,
) -> Frozen:  # fmt: skip
    """Contract all nodes; return the hierarchy's arrays (see module docstring)."""
    m = tails.shape[0]
    # Arc store (grows as shortcuts are added).
    cap_a = max(16, 2 * m)
    a_w = np.empty(cap_a)
    a_len = np.empty(cap_a)
    a_ca = np.full(cap_a, -1, dtype=np.int32)
    a_cb = np.full(cap_a, -1, dtype=np.int32)
    a_edge = np.full(cap_a, -1, dtype=np.int64)
    na = m
    a_w[:m] = weights
    a_len[:m] = lengths
    a_edge[:m] = edges
    # Adjacency pools with slack.
    out_deg = np.bincount(tails, minlength=n)
    in_deg = np.bincount(heads, minlength=n)
    o_cap = (out_deg + 2).astype(np.int64)
    i_cap = (in_deg + 2).astype(np.int64)
    o_beg = np.zeros(n, dtype=np.int64)
    i_beg = np.zeros(n, dtype=np.int64)
    for v in range(1, n):
        o_beg[v] = o_beg[v - 1] + o_cap[v - 1]
        i_beg[v] = i_beg[v - 1] + i_cap[v - 1]
    o_used = o_beg[n - 1] + o_cap[n - 1] if n > 0 else 0
    i_used = i_beg[n - 1] + i_cap[n - 1] if n > 0 else 0
    o_nbr = np.empty(2 * o_used + 16, dtype=np.int32)
    o_arc = np.empty(2 * o_used + 16, dtype=np.int32)
    i_nbr = np.empty(2 * i_used + 16, dtype=np.int32)
    i_arc = np.empty(2 * i_used + 16, dtype=np.int32)
    o_len = np.zeros(n, dtype=np.int64)
    i_len = np.zeros(n, dtype=np.int64)
    for a in range(m):
        u = tails[a]
        w = heads[a]
        o_nbr[o_beg[u] + o_len[u]] = w
        o_arc[o_beg[u] + o_len[u]] = a
        o_len[u] += 1
        i_nbr[i_beg[w] + i_len[w]] = u
        i_arc[i_beg[w] + i_len[w]] = a
        i_len[w] += 1
    # Search workspaces.
    dist = np.full(n, np.inf)
    hops = np.zeros(n, dtype=np.int32)
    pos = np.full(n, -1, dtype=np.int32)
    hn = np.empty(n, dtype=np.int32)
    hk = np.empty(n)
    touched = np.empty(n, dtype=np.int32)
    tflag = np.zeros(n, dtype=np.int64)
    stamp = 0
    sc_cap = 64
    sc_u = np.empty(sc_cap, dtype=np.int32)
    sc_w = np.empty(sc_cap, dtype=np.int32)
    sc_a1 = np.empty(sc_cap, dtype=np.int32)
    sc_a2 = np.empty(sc_cap, dtype=np.int32)
    # Priority queue of uncontracted nodes.
    qn = np.empty(n, dtype=np.int32)
    qk = np.empty(n)
    qpos = np.full(n, -1, dtype=np.int32)
    qsize = 0
    cn = np.zeros(n, dtype=np.int64)
    level = np.zeros(n, dtype=np.int64)
    rank = np.full(n, -1, dtype=np.int32)
    seen = np.full(n, -1, dtype=np.int64)
    for v in range(n):
        stamp += 1
        added = _shortcuts(
            v, sim_settle, sim_hops, False, stamp,
            o_beg, o_len, o_nbr, o_arc, i_beg, i_len, i_nbr, i_arc, a_w,
            dist, hops, pos, hn, hk, touched, tflag, sc_u, sc_w, sc_a1, sc_a2,
        )  # fmt: skip
        prio = c_ed * (added - o_len[v] - i_len[v])
        qsize = heap_push(qn, qk, qpos, qsize, v, prio)
    next_rank = 0
    while qsize > 0:
        v, _key, qsize = heap_pop(qn, qk, qpos, qsize)
        # Lazy update: re-evaluate, and put back if no longer the minimum.
        stamp += 1
        added = _shortcuts(
            v, sim_settle, sim_hops, False, stamp,
            o_beg, o_len, o_nbr, o_arc, i_beg, i_len, i_nbr, i_arc, a_w,
            dist, hops, pos, hn, hk, touched, tflag, sc_u, sc_w, sc_a1, sc_a2,
        )  # fmt: skip
        prio = c_ed * (added - o_len[v] - i_len[v]) + c_cn * cn[v] + c_lv * level[v]
        if qsize > 0 and prio > qk[0]:
            qsize = heap_push(qn, qk, qpos, qsize, v, prio)
            continue
        # Contract v: find the shortcuts with the thorough limits.
        need = o_len[v] * i_len[v]
        if need > sc_cap:
            sc_cap = max(2 * sc_cap, need)
            sc_u = np.empty(sc_cap, dtype=np.int32)
            sc_w = np.empty(sc_cap, dtype=np.int32)
            sc_a1 = np.empty(sc_cap, dtype=np.int32)
            sc_a2 = np.empty(sc_cap, dtype=np.int32)
        stamp += 1
        count = _shortcuts(
            v, con_settle, con_hops, True, stamp,
            o_beg, o_len, o_nbr, o_arc, i_beg, i_len, i_nbr, i_arc, a_w,
            dist, hops, pos, hn, hk, touched, tflag, sc_u, sc_w, sc_a1, sc_a2,
        )  # fmt: skip
        for s in range(count):
            u = sc_u[s]
            w = sc_w[s]
            a1 = sc_a1[s]
            a2 = sc_a2[s]
            cost = a_w[a1] + a_w[a2]
            existing = _adj_find(o_beg, o_len, o_nbr, u, w)
            if existing >= 0 and a_w[o_arc[existing]] <= cost:
                continue
            if na == cap_a:
                cap_a *= 2
                a_w = grow_array(a_w, cap_a)
                a_len = grow_array(a_len, cap_a)
                a_ca = grow_array(a_ca, cap_a)
                a_cb = grow_array(a_cb, cap_a)
                a_edge = grow_array(a_edge, cap_a)
            a = na
            na += 1
            a_w[a] = cost
            a_len[a] = a_len[a1] + a_len[a2]
            a_ca[a] = a1
            a_cb[a] = a2
            a_edge[a] = -1
            if existing >= 0:
                o_arc[existing] = a
                i_arc[_adj_find(i_beg, i_len, i_nbr, w, u)] = a
            else:
                o_nbr, o_arc, o_used = _adj_append(
                    o_beg, o_len, o_cap, o_nbr, o_arc, o_used, u, w, a
                )
                i_nbr, i_arc, i_used = _adj_append(
                    i_beg, i_len, i_cap, i_nbr, i_arc, i_used, w, u, a
                )
        # Detach v: its own lists now hold exactly its arcs to higher nodes.
        rank[v] = next_rank
        next_rank += 1
        for j in range(i_beg[v], i_beg[v] + i_len[v]):
            _adj_remove(o_beg, o_len, o_nbr, o_arc, i_nbr[j], v)
        for i in range(o_beg[v], o_beg[v] + o_len[v]):
            _adj_remove(i_beg, i_len, i_nbr, i_arc, o_nbr[i], v)
        # Update the neighbours' terms and priorities.
        for side in range(2):
            beg = i_beg if side == 0 else o_beg
            lst = i_nbr if side == 0 else o_nbr
            cnt = i_len if side == 0 else o_len
            for j in range(beg[v], beg[v] + cnt[v]):
                x = lst[j]
                if seen[x] == v:
                    continue
                seen[x] = v
                cn[x] += 1
                level[x] = max(level[x], level[v] + 1)
                stamp += 1
                added = _shortcuts(
                    x, sim_settle, sim_hops, False, stamp,
                    o_beg, o_len, o_nbr, o_arc, i_beg, i_len, i_nbr, i_arc, a_w,
                    dist, hops, pos, hn, hk, touched, tflag, sc_u, sc_w, sc_a1, sc_a2,
                )  # fmt: skip
                prio = c_ed * (added - o_len[x] - i_len[x]) + c_cn * cn[x] + c_lv * level[x]
                _set_key(qn, qk, qpos, qsize, x, prio)
    return _freeze(
        n, rank, o_beg, o_len, o_nbr, o_arc, i_beg, i_len, i_nbr, i_arc,
        a_w, a_len, a_ca, a_cb, a_edge, na,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _set_key(
    hn: Int32Array, hk: FloatArray, pos: Int32Array, size: int, v: int, key: float
) -> None:
    """Change the key of ``v`` (present in the heap) up or down."""
    i = pos[v]
    old = hk[i]
    hk[i] = key
    if key < old:
        heap_push(hn, hk, pos, size, v, key)
    else:
        heap_sift_down(hn, hk, pos, i, size)


@njit(cache=True, nogil=True)
def _freeze(
    n: int, rank: Int32Array,
    o_beg: Int64Array, o_len: Int64Array, o_nbr: Int32Array, o_arc: Int32Array,
    i_beg: Int64Array, i_len: Int64Array, i_nbr: Int32Array, i_arc: Int32Array,
    a_w: FloatArray, a_len: FloatArray, a_ca: Int32Array, a_cb: Int32Array, a_edge: Int64Array,
    na: int,
) -> Frozen:  # fmt: skip
    """Build the rank-space upward/downward CSR graphs and renumber the live arcs."""
    order = np.empty(n, dtype=np.int32)
    for v in range(n):
        order[rank[v]] = v
    up_fo = np.zeros(n + 1, dtype=np.int64)
    dn_fo = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        v = order[r]
        up_fo[r + 1] = up_fo[r] + o_len[v]
        dn_fo[r + 1] = dn_fo[r] + i_len[v]
    n_up = up_fo[n]
    n_dn = dn_fo[n]
    new_id = np.full(na, -1, dtype=np.int32)
    up_head = np.empty(n_up, dtype=np.int32)
    up_w = np.empty(n_up)
    up_arc = np.empty(n_up, dtype=np.int32)
    dn_tail = np.empty(n_dn, dtype=np.int32)
    dn_w = np.empty(n_dn)
    dn_arc = np.empty(n_dn, dtype=np.int32)
    next_id = 0
    for r in range(n):
        v = order[r]
        k = up_fo[r]
        for i in range(o_beg[v], o_beg[v] + o_len[v]):
            a = o_arc[i]
            new_id[a] = next_id
            up_head[k] = rank[o_nbr[i]]
            up_w[k] = a_w[a]
            up_arc[k] = next_id
            next_id += 1
            k += 1
    for r in range(n):
        v = order[r]
        k = dn_fo[r]
        for j in range(i_beg[v], i_beg[v] + i_len[v]):
            a = i_arc[j]
            new_id[a] = next_id
            dn_tail[k] = rank[i_nbr[j]]
            dn_w[k] = a_w[a]
            dn_arc[k] = next_id
            next_id += 1
            k += 1
    arc_edge = np.empty(next_id, dtype=np.int64)
    arc_ca = np.empty(next_id, dtype=np.int32)
    arc_cb = np.empty(next_id, dtype=np.int32)
    arc_len = np.empty(next_id)
    for a in range(na):
        b = new_id[a]
        if b < 0:
            continue
        arc_edge[b] = a_edge[a]
        arc_len[b] = a_len[a]
        arc_ca[b] = new_id[a_ca[a]] if a_ca[a] >= 0 else -1
        arc_cb[b] = new_id[a_cb[a]] if a_cb[a] >= 0 else -1
    return (
        rank, order, up_fo, up_head, up_w, up_arc, dn_fo, dn_tail, dn_w, dn_arc,
        arc_edge, arc_ca, arc_cb, arc_len,
    )  # fmt: skip


# ------------------------------------------------------------------------ build


def _base_arcs(
    graph: RoadGraph,
) -> tuple[Int32Array, Int32Array, FloatArray, FloatArray, Int64Array]:
    """Original edges without self-loops or closures (inf), keeping the fastest of parallels."""
    tails = graph.tail().astype(np.int64)
    heads = graph.head.astype(np.int64)
    weight = np.asarray(graph.travel_time, dtype=np.float64)
    keep = np.flatnonzero((tails != heads) & (weight < np.inf))
    order = keep[np.lexsort((weight[keep], heads[keep], tails[keep]))]
    t, h = tails[order], heads[order]
    first = np.ones(order.size, dtype=bool)
    first[1:] = (t[1:] != t[:-1]) | (h[1:] != h[:-1])
    chosen = order[first]
    return (
        tails[chosen].astype(np.int32),
        heads[chosen].astype(np.int32),
        np.ascontiguousarray(weight[chosen]),
        np.ascontiguousarray(np.asarray(graph.length_m, dtype=np.float64)[chosen]),
        chosen.astype(np.int64),
    )


def build_ch(graph: RoadGraph) -> ContractionHierarchy:
    """Contract ``graph`` into an exact :class:`ContractionHierarchy`.

    Edges with an infinite travel time (closed roads) are left out.

    Parameters
    ----------
    graph : RoadGraph
        The graph; its ``travel_time`` is the metric.

    Returns
    -------
    ContractionHierarchy
        Exact for ``graph.travel_time``.

    Raises
    ------
    DataError
        If a travel time is negative or NaN.
    """
    tt = np.asarray(graph.travel_time)
    if tt.size and (np.isnan(tt).any() or tt.min() < 0):
        raise DataError(
            f"{graph.profile} graph has negative or NaN travel times; "
            "rebuild the graph (check the profile's speed table)"
        )
    started = time.perf_counter()
    tails, heads, weights, lengths, edges = _base_arcs(graph)
    result = _contract(
        graph.n_nodes, tails, heads, weights, lengths, edges,
        SIM_SETTLE_LIMIT, SIM_HOP_LIMIT, CONTRACT_SETTLE_LIMIT, CONTRACT_HOP_LIMIT,
        *PRIORITY_WEIGHTS,
    )  # fmt: skip
    ch = ContractionHierarchy(graph, *result)
    log.info(
        "built %s CH: %d nodes, %d arcs (%d shortcuts) in %.1f s",
        graph.profile, ch.n_nodes, ch.arc_edge.size, ch.n_shortcuts,
        time.perf_counter() - started,
    )  # fmt: skip
    return ch


__all__ = [
    "CONTRACT_HOP_LIMIT",
    "CONTRACT_SETTLE_LIMIT",
    "PRIORITY_WEIGHTS",
    "SIM_HOP_LIMIT",
    "SIM_SETTLE_LIMIT",
    "build_ch",
]
