"""Insertion of one request into every candidate vehicle at once (numba, arrays only).

A thin loop over :func:`fleet.solver.kernels.best_insertion` (the static
solver's pruned, eight-step-verified cheapest insertion): for each candidate
vehicle it returns the added cost, the insertion positions, the planned pickup
and drop-off times of the verified schedule and the metres the new route
drives (for the battery check). Nothing is changed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fleet.solver.kernels import INF, best_insertion, build_inserted, route_schedule


@njit(cache=True)
def evaluate_insertions(
    routes, lens, ks, p, d, tt, cost, dd, serv, early, late, demand, kind, pair, maxride,
    cap, shift_s, shift_e, maxdur,
):  # fmt: skip
    """Best insertion of request (``p``, ``d``) into each vehicle of ``ks``.

    Returns
    -------
    delta, pick, drop, metres : ndarray of float64, shape (len(ks),)
        Added cost (``inf`` when infeasible), planned service start at the
        pickup and drop-off, route metres after insertion.
    pos_i, pos_j : ndarray of int64
        Insertion positions as in :func:`~fleet.solver.kernels.build_inserted`.
    """
    nk = ks.shape[0]
    maxlen = routes.shape[1]
    nn = tt.shape[0]
    nodepos = np.full(nn, -1, np.int64)
    tw = np.empty((4, maxlen + 2))
    work = np.empty((4, maxlen + 2))
    load = np.empty((maxlen + 2, demand.shape[1]), np.int64)
    ncand = (maxlen + 2) * (maxlen + 2)
    cand_d = np.empty(ncand)
    cand_i = np.empty(ncand, np.int64)
    cand_j = np.empty(ncand, np.int64)
    buf = np.empty(maxlen + 2, np.int64)
    delta = np.full(nk, INF)
    pick = np.full(nk, INF)
    drop = np.full(nk, INF)
    metres = np.full(nk, INF)
    pos_i = np.full(nk, -1, np.int64)
    pos_j = np.full(nk, -1, np.int64)
    for a in range(nk):
        k = ks[a]
        n = lens[k]
        # cheap reachability test: the pickup cannot be reached in time from the start
        if shift_s[k] + tt[routes[k, 0], p] > late[p] + 1e-7:
            continue
        dl, i, j = best_insertion(
            routes[k], n, k, p, d, tt, cost, serv, early, late, demand, kind, pair, maxride,
            cap, shift_s, shift_e, maxdur, nodepos, tw, load, cand_d, cand_i, cand_j, buf,
            work, 0.0,
        )  # fmt: skip
        if dl == INF:
            continue
        m = build_inserted(routes[k], n, p, d, i, j, buf)
        ok = route_schedule(
            buf, m, k, tt, serv, early, late, kind, pair, maxride, shift_s, shift_e, maxdur,
            nodepos, work,
        )  # fmt: skip
        if not ok:  # pragma: no cover - best_insertion verified this very route
            continue
        delta[a] = dl
        pos_i[a] = i
        pos_j[a] = j
        pick[a] = work[0, i]
        drop[a] = work[0, i + 1] if j == i else work[0, j + 1]
        s = 0.0
        for q in range(m - 1):
            s += dd[buf[q], buf[q + 1]]
        metres[a] = s
    return delta, pos_i, pos_j, pick, drop, metres


@njit(cache=True)
def schedule_route(
    seq, n, k, tt, serv, early, late, kind, pair, maxride, shift_s, shift_e, maxdur
):  # fmt: skip
    """Eight-step schedule of one route: ``(feasible, service start per position)``."""
    nodepos = np.full(tt.shape[0], -1, np.int64)
    work = np.empty((4, n + 2))
    ok = route_schedule(
        seq, n, k, tt, serv, early, late, kind, pair, maxride, shift_s, shift_e, maxdur,
        nodepos, work,
    )  # fmt: skip
    return ok, work[0, :n].copy()
