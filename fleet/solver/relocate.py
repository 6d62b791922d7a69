"""Relocate: move one request at a time to its best place (numba local search)."""

from __future__ import annotations

import numpy as np

from fleet.solver.data import (
    FloatArray,
    IntArray,
    ProblemData,
    RouteState,
    Workspace,
    new_workspace,
)
from fleet.solver.insertion import insertion_prepared, route_prep
from fleet.solver.jit import njit, njit_borrowed
from fleet.solver.routes import build_inserted


@njit_borrowed
def _best_move(
    rs: RouteState,
    red: IntArray,
    ln: int,
    k: int,
    own: bool,
    p: int,
    d: int,
    data: ProblemData,
    ws: Workspace,
    tws: FloatArray,
    loads: IntArray,
    durs: FloatArray,
    prep_ver: IntArray,
    version: IntArray,
) -> tuple[float, int, int]:
    """Cheapest insertion of request (``p``, ``d``) into route ``k`` for :func:`relocate_search`.

    The request's own route (``own``) is ``red[:ln]``, the route without it,
    prepared each time into ``ws``; any other route is ``rs.routes[k]``,
    prepared into ``tws[k]``, ``loads[k]``, ``durs[k]`` only when its version
    changed (``prep_ver``/``version``). A kernel of its own, without reference
    counting, because relocate runs it for every (request, route) pair.
    """
    if own:
        dur = route_prep(red, ln, k, data, ws.nodepos, ws.tw, ws.load)
        return insertion_prepared(red, ln, k, p, d, data, ws, ws.tw, ws.load, dur, 0.0)
    seq = rs.routes[k]
    if prep_ver[k] != version[k]:
        durs[k] = route_prep(seq, ln, k, data, ws.nodepos, tws[k], loads[k])
        prep_ver[k] = version[k]
    return insertion_prepared(seq, ln, k, p, d, data, ws, tws[k], loads[k], durs[k], 0.0)


@njit
def relocate_search(
    rs: RouteState, order: IntArray, vehicle_fixed: float, data: ProblemData
) -> float:
    """First-improvement local search: move one request to its best position.

    For each request in ``order`` (in turn, repeated until a full pass brings no
    gain), take it out of its route and insert it at the cheapest feasible place
    in any route (its own included). Only strictly improving moves are applied;
    every changed route is verified with the eight-step schedule.

    The best insertion of a request into a route depends only on that route,
    so it is cached per (request, route) with the route's version number and
    recomputed only after the route changed: later passes cost little.

    Parameters
    ----------
    rs : RouteState
        Routes, improved in place.
    order : ndarray of int64
        Requests to try, in this order.
    vehicle_fixed : float
        Cost of a used vehicle (a route that empties saves it).
    data : ProblemData
        The problem.

    Returns
    -------
    float
        Total cost saved.
    """
    routes = rs.routes
    lens = rs.lens
    cost = data.cost
    veh_class = data.veh_class
    pickup = data.pickup
    dropoff = data.dropoff
    K = routes.shape[0]
    nn = data.tt.shape[0]
    R = pickup.shape[0]
    maxlen = routes.shape[1]
    nd = data.demand.shape[1]
    ws = new_workspace(nn, maxlen + 2, nd)
    buf = ws.buf
    red = np.empty(maxlen + 2, np.int64)
    version = np.zeros(K, np.int64)
    c_ver = np.full((R, K), -1, np.int64)
    c_d = np.empty((R, K))
    c_i = np.empty((R, K), np.int64)
    c_j = np.empty((R, K), np.int64)
    tws = np.empty((K, 4, maxlen + 2))
    loads = np.empty((K, maxlen + 2, nd), np.int64)
    durs = np.empty(K)
    prep_ver = np.full(K, -1, np.int64)
    route_of = np.full(nn, -1, np.int64)
    for k in range(K):
        for q in range(1, lens[k] - 1):
            route_of[routes[k, q]] = k
    saved = 0.0
    improved = True
    while improved:
        improved = False
        for r in order:
            p = pickup[r]
            d = dropoff[r]
            kr_ = route_of[p]
            if kr_ < 0:
                continue
            n = lens[kr_]
            m = 0
            for q in range(n):
                v = routes[kr_, q]
                if v != p and v != d:
                    red[m] = v
                    m += 1
            old = 0.0
            for q in range(n - 1):
                old += cost[routes[kr_, q], routes[kr_, q + 1]]
            new = 0.0
            if m > 2:
                for q in range(m - 1):
                    new += cost[red[q], red[q + 1]]
            gain = old - new
            if m == 2:
                gain += vehicle_fixed
            best = gain - 1e-7
            best_k = -1
            best_i = -1
            best_j = -1
            for k in range(K):
                if k == kr_:
                    ln = m
                else:
                    ln = lens[k]
                    if ln == 2:
                        # empty routes: only the first of its class, and never the same class
                        skip = veh_class[k] == veh_class[kr_] and m == 2
                        for h in range(k):
                            if lens[h] == 2 and veh_class[h] == veh_class[k]:
                                skip = True
                        if skip:
                            continue
                if k == kr_ and m == 2:
                    continue
                extra = vehicle_fixed if ln == 2 and k != kr_ else 0.0
                if extra >= best:
                    continue
                if c_ver[r, k] == version[k]:
                    dl = c_d[r, k]
                    i = c_i[r, k]
                    j = c_j[r, k]
                else:
                    dl, i, j = _best_move(
                        rs, red, ln, k, k == kr_, p, d, data, ws, tws, loads, durs, prep_ver,
                        version,
                    )  # fmt: skip
                    c_ver[r, k] = version[k]
                    c_d[r, k] = dl
                    c_i[r, k] = i
                    c_j[r, k] = j
                if dl + extra < best:
                    best = dl + extra
                    best_k = k
                    best_i = i
                    best_j = j
            if best_k < 0:
                continue
            # apply: shrink the old route, insert into the new one
            if best_k == kr_:
                mm = build_inserted(red, m, p, d, best_i, best_j, buf)
                for q in range(mm):
                    routes[kr_, q] = buf[q]
                lens[kr_] = mm
            else:
                mm = build_inserted(routes[best_k], lens[best_k], p, d, best_i, best_j, buf)
                for q in range(mm):
                    routes[best_k, q] = buf[q]
                lens[best_k] = mm
                for q in range(m):
                    routes[kr_, q] = red[q]
                lens[kr_] = m
                route_of[p] = best_k
                route_of[d] = best_k
                version[best_k] += 1
            version[kr_] += 1
            saved += gain - best
            improved = True
    return saved
