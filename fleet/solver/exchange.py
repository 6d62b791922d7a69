"""2-opt* tail exchange between two routes (numba local search).

Both new routes are checked by the borrowed kernels of :mod:`fleet.solver.schedule`
(:func:`~fleet.solver.jit.njit_borrowed`: no reference counting per call).
"""

from __future__ import annotations

import numpy as np

from fleet.solver.data import ProblemData, RouteState
from fleet.solver.jit import njit
from fleet.solver.schedule import empty_points, fits, route_schedule


@njit
def tail_exchange_search(rs: RouteState, data: ProblemData) -> float:
    """First-improvement 2-opt*: swap the tails of two routes at points where both are empty.

    Cutting where a vehicle carries nobody keeps every pickup with its drop-off,
    so a swap moves whole blocks of requests between vehicles at once (which
    request-by-request removal rarely finds). Each end depot stays with its
    vehicle; both new routes are checked for capacity and by the eight-step
    schedule. Empty routes are never filled. Repeats until no swap improves.

    Parameters
    ----------
    rs : RouteState
        Routes, improved in place.
    data : ProblemData
        The problem.

    Returns
    -------
    float
        The saving (a lower bound when a route empties).
    """
    routes = rs.routes
    lens = rs.lens
    cost = data.cost
    demand = data.demand
    cap = data.cap
    K = routes.shape[0]
    nn = data.tt.shape[0]
    maxlen = routes.shape[1]
    nd = demand.shape[1]
    nodepos = np.full(nn, -1, np.int64)
    B = np.empty((4, 2 * maxlen + 2))
    a_seq = np.empty(2 * maxlen + 2, np.int64)
    b_seq = np.empty(2 * maxlen + 2, np.int64)
    empty1 = np.zeros(maxlen, np.bool_)
    empty2 = np.zeros(maxlen, np.bool_)
    ld = np.zeros(nd, np.int64)
    saved = 0.0
    improved = True
    while improved:
        improved = False
        for k1 in range(K):
            n1 = lens[k1]
            if n1 <= 2:
                continue
            empty_points(routes[k1], n1, demand, ld, empty1)
            for k2 in range(K):
                if k2 == k1 or lens[k2] <= 2:
                    continue  # never opens a vehicle (vehicle counts matter to Li & Lim)
                n2 = lens[k2]
                empty_points(routes[k2], n2, demand, ld, empty2)
                done = False
                for a in range(n1 - 1):
                    if not empty1[a]:
                        continue
                    u = routes[k1, a]
                    u2 = routes[k1, a + 1]
                    for b in range(n2 - 1):
                        if not empty2[b]:
                            continue
                        if a == 0 and b == 0:
                            continue  # swapping whole routes changes nothing useful
                        if a == n1 - 2 and b == n2 - 2:
                            continue  # both tails are just the end depots
                        v = routes[k2, b]
                        v2 = routes[k2, b + 1]
                        # new route 1: k1[:a+1] + k2[b+1:n2-1] + end1
                        t2_last = routes[k2, n2 - 2]
                        t1_last = routes[k1, n1 - 2]
                        e1 = routes[k1, n1 - 1]
                        e2 = routes[k2, n2 - 1]
                        delta = 0.0
                        if b + 1 <= n2 - 2:
                            delta += cost[u, v2] + cost[t2_last, e1] - cost[t2_last, e2]
                        else:
                            delta += cost[u, e1]
                        if a + 1 <= n1 - 2:
                            delta += cost[v, u2] + cost[t1_last, e2] - cost[t1_last, e1]
                        else:
                            delta += cost[v, e2]
                        delta -= cost[u, u2] + cost[v, v2]
                        if delta >= -1e-7:
                            continue
                        m1 = 0
                        for q in range(a + 1):
                            a_seq[m1] = routes[k1, q]
                            m1 += 1
                        for q in range(b + 1, n2 - 1):
                            a_seq[m1] = routes[k2, q]
                            m1 += 1
                        a_seq[m1] = e1
                        m1 += 1
                        m2 = 0
                        for q in range(b + 1):
                            b_seq[m2] = routes[k2, q]
                            m2 += 1
                        for q in range(a + 1, n1 - 1):
                            b_seq[m2] = routes[k1, q]
                            m2 += 1
                        b_seq[m2] = e2
                        m2 += 1
                        if m1 > maxlen or m2 > maxlen:
                            continue
                        if not fits(a_seq, m1, k1, demand, cap, ld):
                            continue
                        if not fits(b_seq, m2, k2, demand, cap, ld):
                            continue
                        if m1 > 2 and not route_schedule(a_seq, m1, k1, data, nodepos, B):
                            continue
                        if m2 > 2 and not route_schedule(b_seq, m2, k2, data, nodepos, B):
                            continue
                        for q in range(m1):
                            routes[k1, q] = a_seq[q]
                        lens[k1] = m1
                        for q in range(m2):
                            routes[k2, q] = b_seq[q]
                        lens[k2] = m2
                        saved -= delta
                        improved = True
                        done = True
                        break
                    if done:
                        break
                if done:
                    n1 = lens[k1]
                    if n1 <= 2:
                        break
                    empty_points(routes[k1], n1, demand, ld, empty1)
    return saved
