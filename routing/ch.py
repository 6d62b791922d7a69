"""Contraction Hierarchies: exact, preprocessed fast shortest paths (Geisberger et al. 2008).

The road networks are served by *customizable* hierarchies (:mod:`routing.cch`),
which reuse this module's query side (:class:`ContractionHierarchy`, the packed
query graph, path unpacking) with a metric-independent contraction order. The
classic witness-search builder below stays as a reference implementation for
tests and small graphs.

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

import hashlib
import logging
import math
import operator
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from routing.cache import cache_key, load_arrays, save_arrays
from routing.errors import DataError, NoRouteError, RequestError
from routing.graph import RoadGraph
from routing.paths import PathResult, make_path
from routing.search import as_seeds, heap_pop, heap_push

log = logging.getLogger(__name__)

CH_FORMAT_VERSION = 1

# Witness search limits: while estimating priorities (cheap, approximate) and
# while contracting (more thorough: fewer superfluous shortcuts).
SIM_SETTLE_LIMIT = 30
SIM_HOP_LIMIT = 3
CONTRACT_SETTLE_LIMIT = 200
CONTRACT_HOP_LIMIT = 6
# Priority = weights . (edge difference, contracted neighbours, level)
PRIORITY_WEIGHTS = (2.0, 1.0, 1.0)


# ------------------------------------------------------------ dynamic adjacency
# Each node owns a block [beg, beg + cap) of a shared pool; ``len`` entries are
# used. A full block moves to the end of the pool with twice the room.


@njit(cache=True, nogil=True)
def grow_array(a, size):
    """A copy of ``a`` with room for ``size`` entries (numba has no in-place resize)."""
    out = np.empty(size, dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _adj_append(beg, ln, cap, nbr, arc, used, v, x, a):
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
def _adj_find(beg, ln, nbr, v, x):
    for i in range(beg[v], beg[v] + ln[v]):
        if nbr[i] == x:
            return i
    return -1


@njit(cache=True, nogil=True)
def _adj_remove(beg, ln, nbr, arc, v, x):
    i = _adj_find(beg, ln, nbr, v, x)
    if i >= 0:
        last = beg[v] + ln[v] - 1
        nbr[i] = nbr[last]
        arc[i] = arc[last]
        ln[v] -= 1


# -------------------------------------------------------------- witness search


@njit(cache=True, nogil=True)
def _witness_search(
    src, skip, max_cost, settle_limit, hop_limit, n_targets, stamp,
    o_beg, o_len, o_nbr, o_arc, a_w,
    dist, hops, pos, hn, hk, touched, tflag,
):  # fmt: skip
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
def _reset(nt, touched, dist, pos):
    for i in range(nt):
        dist[touched[i]] = np.inf
        pos[touched[i]] = -1


@njit(cache=True, nogil=True)
def _shortcuts(
    v, settle_limit, hop_limit, record, stamp,
    o_beg, o_len, o_nbr, o_arc, i_beg, i_len, i_nbr, i_arc, a_w,
    dist, hops, pos, hn, hk, touched, tflag,
    sc_u, sc_w, sc_a1, sc_a2,
):  # fmt: skip
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
    n, tails, heads, weights, lengths, edges,
    sim_settle, sim_hops, con_settle, con_hops, c_ed, c_cn, c_lv,
):  # fmt: skip
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
def _set_key(hn, hk, pos, size, v, key):
    """Change the key of ``v`` (present in the heap) up or down."""
    i = pos[v]
    old = hk[i]
    hk[i] = key
    if key < old:
        heap_push(hn, hk, pos, size, v, key)
    else:
        # sift down
        while True:
            c = 2 * i + 1
            if c >= size:
                break
            if c + 1 < size and hk[c + 1] < hk[c]:
                c += 1
            if hk[c] >= key:
                break
            hn[i] = hn[c]
            hk[i] = hk[c]
            pos[hn[i]] = i
            i = c
        hn[i] = v
        hk[i] = key
        pos[v] = i


@njit(cache=True, nogil=True)
def _freeze(
    n, rank, o_beg, o_len, o_nbr, o_arc, i_beg, i_len, i_nbr, i_arc,
    a_w, a_len, a_ca, a_cb, a_edge, na,
):  # fmt: skip
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


# ------------------------------------------------------------------------ query


@njit(cache=True, nogil=True)
def _pack_query_graph(up_fo, up_head, up_w, up_arc, dn_fo, dn_tail, dn_w, dn_arc):
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
def _ch_query(offsets, q_node, q_w, q_arc, src, src_cost, dst, dst_cost, wf, wi):
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
def _ch_query_pair(offsets, q_node, q_w, q_arc, s, t, wf, wi):
    """:func:`_ch_query` between two single ranks (fewer arguments: faster dispatch)."""
    src = np.empty(1, dtype=np.int32)
    dst = np.empty(1, dtype=np.int32)
    zero = np.zeros(1)
    src[0] = s
    dst[0] = t
    return _ch_query(offsets, q_node, q_w, q_arc, src, zero, dst, zero, wf, wi)


@njit(cache=True, nogil=True)
def _unpack_path(meet, wi, arc_edge, arc_ca, arc_cb):
    """Original edges of the path through ``meet``; also return the start rank."""
    pf_arc = wi[4]
    pf_node = wi[5]
    pb_arc = wi[6]
    pb_node = wi[7]
    # CH arcs from source to meet (reversed while walking back), then meet to target.
    count = 0
    v = meet
    while pf_arc[v] >= 0:
        count += 1
        v = pf_node[v]
    start = v
    v = meet
    while pb_arc[v] >= 0:
        count += 1
        v = pb_node[v]
    arcs = np.empty(count, dtype=np.int32)
    k = 0
    v = meet
    while pf_arc[v] >= 0:
        k += 1
        v = pf_node[v]
    i = k - 1
    v = meet
    while pf_arc[v] >= 0:
        arcs[i] = pf_arc[v]
        i -= 1
        v = pf_node[v]
    v = meet
    while pb_arc[v] >= 0:
        arcs[k] = pb_arc[v]
        k += 1
        v = pb_node[v]
    # Expand shortcuts depth-first, first half first.
    out = np.empty(max(16, 4 * count), dtype=np.int64)
    n_out = 0
    stack = np.empty(64, dtype=np.int32)
    for j in range(count):
        top = 0
        stack[top] = arcs[j]
        top += 1
        while top > 0:
            top -= 1
            a = stack[top]
            if arc_edge[a] >= 0:
                if n_out == out.shape[0]:
                    out = grow_array(out, 2 * n_out)
                out[n_out] = arc_edge[a]
                n_out += 1
            else:
                if top + 2 > stack.shape[0]:
                    stack = grow_array(stack, 2 * stack.shape[0])
                stack[top] = arc_cb[a]
                stack[top + 1] = arc_ca[a]
                top += 2
    return out[:n_out].copy(), start


# -------------------------------------------------------------------- the class


class _Workspace:
    """Per-thread query arrays (see :func:`_ch_query` for the rows' meaning)."""

    def __init__(self, n: int) -> None:
        self.wf = np.full((4, n), np.inf)
        self.wi = np.full((10, n), -1, dtype=np.int32)


_ARRAY_FIELDS = (
    "rank", "order", "up_first_out", "up_head", "up_weight", "up_arc",
    "down_first_out", "down_tail", "down_weight", "down_arc",
    "arc_edge", "arc_child_a", "arc_child_b", "arc_length",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class ContractionHierarchy:
    """A contraction hierarchy of one :class:`RoadGraph` (all arrays; see module docstring).

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
    rank: np.ndarray
    order: np.ndarray
    up_first_out: np.ndarray
    up_head: np.ndarray
    up_weight: np.ndarray
    up_arc: np.ndarray
    down_first_out: np.ndarray
    down_tail: np.ndarray
    down_weight: np.ndarray
    down_arc: np.ndarray
    arc_edge: np.ndarray
    arc_child_a: np.ndarray
    arc_child_b: np.ndarray
    arc_length: np.ndarray
    _local: threading.local = field(
        default_factory=threading.local, init=False, repr=False, compare=False
    )
    _packed: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        packed = _pack_query_graph(
            self.up_first_out, self.up_head, self.up_weight, self.up_arc,
            self.down_first_out, self.down_tail, self.down_weight, self.down_arc,
        )  # fmt: skip
        object.__setattr__(self, "_packed", packed)

    def __reduce__(self):
        # The per-thread workspaces and packed arrays are rebuilt, not pickled.
        return (type(self), (self.graph, *(getattr(self, name) for name in _ARRAY_FIELDS)))

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.rank.shape[0])

    @property
    def n_shortcuts(self) -> int:
        """Number of shortcut arcs."""
        return int((self.arc_edge < 0).sum())

    def array_fields(self) -> dict[str, np.ndarray]:
        """Every array attribute by name (used by the disk cache)."""
        return {name: getattr(self, name) for name in _ARRAY_FIELDS}

    def _workspace(self) -> _Workspace:
        ws = getattr(self._local, "ws", None)
        if ws is None:
            ws = _Workspace(self.n_nodes)
            self._local.ws = ws
        return ws

    def _search(self, src, sc, dst, dc) -> tuple[float, int, _Workspace]:
        """Run the query kernel on rank-space seeds."""
        ws = self._workspace()
        offsets, q_node, q_w, q_arc = self._packed
        cost, meet = _ch_query(offsets, q_node, q_w, q_arc, src, sc, dst, dc, ws.wf, ws.wi)
        return float(cost), int(meet), ws

    def _seeds(self, src_nodes, src_costs, dst_nodes, dst_costs):
        src, sc = as_seeds(self.n_nodes, src_nodes, src_costs, what="source")
        dst, dc = as_seeds(self.n_nodes, dst_nodes, dst_costs, what="target")
        return src, sc, dst, dc

    def query(self, src_nodes, src_costs, dst_nodes, dst_costs) -> float:
        """Travel time in seconds between seed sets, ``inf`` if no route exists.

        Parameters
        ----------
        src_nodes, dst_nodes : array_like of int
            Seed node ids (original numbering), e.g. both ends of a snapped edge.
        src_costs, dst_costs : array_like of float or None
            Seconds already spent reaching each source seed / still needed from
            each target seed (``None``: zeros).
        """
        src, sc, dst, dc = self._seeds(src_nodes, src_costs, dst_nodes, dst_costs)
        return self._search(self.rank[src], sc, self.rank[dst], dc)[0]

    def route(self, src_nodes, src_costs, dst_nodes, dst_costs) -> PathResult:
        """Fastest path between seed sets with shortcuts unpacked to original edges.

        Parameters are as in :meth:`query`.

        Raises
        ------
        NoRouteError
            When no target seed is reachable.
        """
        src, sc, dst, dc = self._seeds(src_nodes, src_costs, dst_nodes, dst_costs)
        cost, meet, ws = self._search(self.rank[src], sc, self.rank[dst], dc)
        return self._path(cost, meet, ws, src, dst)

    def route_or_none(self, src_nodes, src_costs, dst_nodes, dst_costs) -> PathResult | None:
        """:meth:`route` with one search, ``None`` instead of :class:`NoRouteError`.

        For callers that compare the path's cost with another candidate (a
        point-to-point route on one edge) without searching twice.
        """
        src, sc, dst, dc = self._seeds(src_nodes, src_costs, dst_nodes, dst_costs)
        cost, meet, ws = self._search(self.rank[src], sc, self.rank[dst], dc)
        if meet < 0 or not math.isfinite(cost):
            return None
        return self._path(cost, meet, ws, src, dst)

    def _path(self, cost, meet, ws, src, dst) -> PathResult:
        if meet < 0:
            raise NoRouteError(
                f"no {self.graph.profile} route from node(s) {list(src)[:4]} to node(s) "
                f"{list(dst)[:4]}: the target is not reachable (one-way streets or a "
                "disconnected part of the network); pick points on the main network"
            )
        edges, start_rank = _unpack_path(
            meet, ws.wi, self.arc_edge, self.arc_child_a, self.arc_child_b
        )
        return make_path(self.graph, cost, edges, int(self.order[start_rank]))

    def _node(self, node, what: str) -> int:
        """Rank of one node id, validated cheaply (the single-pair fast path)."""
        try:
            v = operator.index(node)
        except TypeError:
            raise RequestError(f"{what} must be an integer node id, got {node!r}") from None
        if not 0 <= v < self.rank.shape[0]:
            raise RequestError(
                f"{what} node id {v} out of range: graph has nodes 0..{self.n_nodes - 1}"
            )
        return self.rank.item(v)

    def cost_between(self, source: int, target: int) -> float:
        """Travel time in seconds between two node ids, ``inf`` if unreachable."""
        s = self._node(source, "source")
        t = self._node(target, "target")
        ws = self._workspace()
        offsets, q_node, q_w, q_arc = self._packed
        return _ch_query_pair(offsets, q_node, q_w, q_arc, s, t, ws.wf, ws.wi)[0]

    def path_between(self, source: int, target: int) -> PathResult:
        """Fastest path between two node ids (raises :class:`NoRouteError` if none)."""
        s = self._node(source, "source")
        t = self._node(target, "target")
        ws = self._workspace()
        offsets, q_node, q_w, q_arc = self._packed
        cost, meet = _ch_query_pair(offsets, q_node, q_w, q_arc, s, t, ws.wf, ws.wi)
        return self._path(cost, meet, ws, [source], [target])


# ------------------------------------------------------------------------- build


def _base_arcs(graph: RoadGraph):
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


def graph_digest(graph: RoadGraph) -> str:
    """Content hash of the arrays a hierarchy depends on."""
    digest = hashlib.sha256()
    for name in ("first_out", "head", "travel_time", "length_m"):
        array = np.ascontiguousarray(getattr(graph, name))
        digest.update(name.encode())
        digest.update(array.dtype.str.encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def contraction_hierarchy(graph: RoadGraph, *, cache_dir: Path | None) -> ContractionHierarchy:
    """Return the hierarchy of ``graph``, from ``cache_dir`` when built before.

    The cache key is a hash of the graph's topology, travel times and lengths
    plus :data:`CH_FORMAT_VERSION`; a cached hierarchy is memory-mapped.
    ``cache_dir=None`` always builds.
    """
    if cache_dir is None:
        return build_ch(graph)
    cache_dir = Path(cache_dir)
    key = cache_key(graph_digest(graph), CH_FORMAT_VERSION)
    kind = f"ch-{graph.profile}"
    hit = load_arrays(cache_dir, kind, key)
    if hit is not None:
        arrays, _meta = hit
        if arrays.keys() == set(_ARRAY_FIELDS) and arrays["rank"].shape[0] == graph.n_nodes:
            log.info("loaded %s CH from cache (%d nodes)", graph.profile, graph.n_nodes)
            return ContractionHierarchy(graph, **{k: arrays[k] for k in _ARRAY_FIELDS})
        log.warning("cached %s CH does not match the graph; rebuilding", graph.profile)
    ch = build_ch(graph)
    save_arrays(
        cache_dir, kind, key, ch.array_fields(),
        {"profile": graph.profile, "nodes": ch.n_nodes, "shortcuts": ch.n_shortcuts},
    )  # fmt: skip
    return ch


__all__ = [
    "CH_FORMAT_VERSION",
    "ContractionHierarchy",
    "build_ch",
    "contraction_hierarchy",
    "graph_digest",
]
