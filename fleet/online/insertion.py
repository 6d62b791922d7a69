"""Insertion of one request into every candidate vehicle at once (numba, arrays only).

A thin loop over :func:`fleet.solver.insertion.best_insertion` (the static
solver's pruned, eight-step-verified cheapest insertion): for each candidate
vehicle it returns the added cost, the insertion positions, the planned pickup
and drop-off times of the verified schedule and the metres the new route
drives (for the battery check). Nothing is changed. The kernels it calls
borrow their arrays (:func:`fleet.solver.jit.njit_borrowed`).
"""

from __future__ import annotations

import numpy as np

from fleet.solver.data import INF, FloatArray, IntArray, ProblemData, RouteState, new_workspace
from fleet.solver.insertion import best_insertion
from fleet.solver.jit import njit
from fleet.solver.routes import build_inserted
from fleet.solver.schedule import route_schedule


@njit
def evaluate_insertions(
    rs: RouteState, ks: IntArray, p: int, d: int, data: ProblemData, dd: FloatArray
) -> tuple[FloatArray, IntArray, IntArray, FloatArray, FloatArray, FloatArray]:
    """Best insertion of request (``p``, ``d``) into each vehicle of ``ks``.

    Parameters
    ----------
    rs : RouteState
        The vehicles' routes (not changed).
    ks : ndarray of int64
        Candidate vehicles.
    p, d : int
        Pickup and drop-off node.
    data : ProblemData
        Nodes and vehicles (the request fields are not read).
    dd : ndarray of float64
        Metres between nodes.

    Returns
    -------
    delta, pos_i, pos_j, pick, drop, metres : ndarray
        Per vehicle of ``ks``: added cost (``inf`` when infeasible), insertion
        positions as in :func:`~fleet.solver.routes.build_inserted` (int64),
        planned service start at the pickup and drop-off, route metres after
        insertion.
    """
    routes = rs.routes
    lens = rs.lens
    nk = ks.shape[0]
    maxlen = routes.shape[1]
    ws = new_workspace(data.tt.shape[0], maxlen + 2, data.demand.shape[1])
    buf = ws.buf
    work = ws.work
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
        if data.shift_s[k] + data.tt[routes[k, 0], p] > data.late[p] + 1e-7:
            continue
        dl, i, j = best_insertion(routes[k], n, k, p, d, data, ws, 0.0)
        if dl == INF:
            continue
        m = build_inserted(routes[k], n, p, d, i, j, buf)
        ok = route_schedule(buf, m, k, data, ws.nodepos, work)
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


@njit
def schedule_route(seq: IntArray, n: int, k: int, data: ProblemData) -> tuple[bool, FloatArray]:
    """Eight-step schedule of one route: ``(feasible, service start per position)``."""
    nodepos = np.full(data.tt.shape[0], -1, np.int64)
    work = np.empty((4, n + 2))
    ok = route_schedule(seq, n, k, data, nodepos, work)
    return ok, work[0, :n].copy()
