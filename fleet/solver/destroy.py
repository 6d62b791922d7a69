"""Numba removal (destroy) operators of the ALNS.

Every operator picks requests that are currently routed and writes their ids
into ``out``, returning how many it chose. Solutions are a
:class:`fleet.solver.data.RouteState` plus ``routed``, a boolean mask over
requests. Random draws come from numba's generator, which the caller seeds
once per run, so a run is reproducible. Shaw relatedness reads the schedules
of :func:`fleet.solver.schedule.service_times`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fleet.solver.data import INF, BoolArray, FloatArray, IntArray, ProblemData, RouteState
from fleet.solver.jit import njit
from fleet.solver.schedule import service_times

RANDOM, WORST, SHAW, ROUTE, STRING = 0, 1, 2, 3, 4
N_REMOVALS = 5


class DestroyData(NamedTuple):
    """Settings and per-run data of the removal operators.

    ``worst_randomness``/``shaw_randomness``: the exponent ``p`` of the
    Ropke-Pisinger ``y**p`` choice; ``w_dist``/``w_time``/``w_load``: Shaw
    relatedness weights; ``n_strings``: routes cut by string removal;
    ``shaw_dist`` (R, R): normalised pickup plus drop-off distance of two
    requests; ``horizon``: time normaliser; ``loads`` (R): load of each
    request; ``load_span``: load normaliser.
    """

    worst_randomness: float
    shaw_randomness: float
    w_dist: float
    w_time: float
    w_load: float
    n_strings: int
    shaw_dist: FloatArray
    horizon: float
    loads: FloatArray
    load_span: float


@njit
def routed_list(routed: BoolArray) -> IntArray:
    """Ids of the routed requests, ascending."""
    out = np.empty(routed.shape[0], np.int64)
    m = 0
    for r in range(routed.shape[0]):
        if routed[r]:
            out[m] = r
            m += 1
    return out[:m]


@njit
def removal_gains(rs: RouteState, data: ProblemData, n_requests: int) -> FloatArray:
    """Cost saved by taking each request out of its route (-inf if not routed)."""
    routes = rs.routes
    lens = rs.lens
    cost = data.cost
    kind = data.kind
    pair = data.pair
    node_request = data.node_request
    gain = np.full(n_requests, -INF)
    K = routes.shape[0]
    for k in range(K):
        n = lens[k]
        for q in range(1, n - 1):
            v = routes[k, q]
            if kind[v] != 1:
                continue
            # find the drop-off position
            qd = -1
            for t in range(q + 1, n - 1):
                if routes[k, t] == pair[v]:
                    qd = t
                    break
            if qd < 0:
                continue
            a = routes[k, q - 1]
            d = routes[k, qd]
            if qd == q + 1:
                b = routes[k, qd + 1]
                g = cost[a, v] + cost[v, d] + cost[d, b] - cost[a, b]
            else:
                b = routes[k, q + 1]
                x = routes[k, qd - 1]
                y = routes[k, qd + 1]
                g = cost[a, v] + cost[v, b] - cost[a, b] + cost[x, d] + cost[d, y] - cost[x, y]
            gain[node_request[v]] = g
    return gain


@njit
def random_removal(routed: BoolArray, q: int, out: IntArray) -> int:
    """``q`` distinct routed requests, uniformly."""
    cand = routed_list(routed)
    n = cand.shape[0]
    q = min(q, n)
    for t in range(q):  # partial Fisher-Yates
        s = np.random.randint(t, n)
        cand[t], cand[s] = cand[s], cand[t]
        out[t] = cand[t]
    return q


@njit
def worst_removal(
    rs: RouteState, routed: BoolArray, q: int, randomness: float, data: ProblemData, out: IntArray
) -> int:
    """Requests whose removal saves most, with Ropke-Pisinger randomisation ``y**p``."""
    gains = removal_gains(rs, data, routed.shape[0])
    cand = routed_list(routed)
    order = cand[np.argsort(-gains[cand], kind="mergesort")]
    n = order.shape[0]
    q = min(q, n)
    for t in range(q):
        idx = int(n * np.random.random() ** randomness)
        out[t] = order[idx]
        for s in range(idx, n - 1):
            order[s] = order[s + 1]
        n -= 1
    return q


@njit
def shaw_removal(
    routed: BoolArray,
    q: int,
    dd: DestroyData,
    times: FloatArray,
    data: ProblemData,
    out: IntArray,
) -> int:
    """Shaw removal: requests related in place, time and load to ones already chosen.

    ``times`` is the start of service per node (see
    :func:`fleet.solver.schedule.service_times`).
    """
    pickup = data.pickup
    dropoff = data.dropoff
    shaw_dist = dd.shaw_dist
    loads = dd.loads
    w_dist = dd.w_dist
    w_time = dd.w_time
    w_load = dd.w_load
    horizon = dd.horizon
    load_span = dd.load_span
    cand = routed_list(routed)
    n = cand.shape[0]
    q = min(q, n)
    if q == 0:
        return 0
    s = np.random.randint(0, n)
    out[0] = cand[s]
    cand[s] = cand[n - 1]
    n -= 1
    rel = np.empty(n + 1)
    for t in range(1, q):
        r = out[np.random.randint(0, t)]
        tp = times[pickup[r]]
        td = times[dropoff[r]]
        for c in range(n):
            o = cand[c]
            rel[c] = (
                w_dist * shaw_dist[r, o]
                + w_time * (abs(tp - times[pickup[o]]) + abs(td - times[dropoff[o]])) / horizon
                + w_load * abs(loads[r] - loads[o]) / load_span
            )
        order = np.argsort(rel[:n], kind="mergesort")
        c = order[int(n * np.random.random() ** dd.shaw_randomness)]
        out[t] = cand[c]
        cand[c] = cand[n - 1]  # order of the rest is irrelevant: relatedness is recomputed
        n -= 1
    return q


@njit
def route_removal(rs: RouteState, q: int, data: ProblemData, out: IntArray) -> int:
    """Whole random routes until at least ``max(1, q // 2)`` requests are chosen."""
    routes = rs.routes
    lens = rs.lens
    K = routes.shape[0]
    used = np.empty(K, np.int64)
    nu = 0
    for k in range(K):
        if lens[k] > 2:
            used[nu] = k
            nu += 1
    for t in range(nu - 1, 0, -1):
        s = np.random.randint(0, t + 1)
        used[t], used[s] = used[s], used[t]
    m = 0
    for t in range(nu):
        k = used[t]
        for p in range(1, lens[k] - 1):
            v = routes[k, p]
            if data.kind[v] == 1:
                out[m] = data.node_request[v]
                m += 1
        if m >= max(1, q // 2):
            break
    return m


@njit
def string_removal(
    rs: RouteState,
    routed: BoolArray,
    q: int,
    n_strings: int,
    shaw_dist: FloatArray,
    data: ProblemData,
    out: IntArray,
) -> int:
    """SISR-like: strings of consecutive stops cut from routes near a seed request."""
    routes = rs.routes
    lens = rs.lens
    pickup = data.pickup
    node_request = data.node_request
    nn = node_request.shape[0]
    cand = routed_list(routed)
    if cand.shape[0] == 0:
        return 0
    seed_r = cand[np.random.randint(0, cand.shape[0])]
    route_of = np.full(nn, -1, np.int64)
    pos_of = np.zeros(nn, np.int64)
    for k in range(routes.shape[0]):
        if lens[k] <= 2:
            continue
        for p in range(lens[k]):
            pos_of[routes[k, p]] = p
            if 0 < p < lens[k] - 1:
                route_of[routes[k, p]] = k
    neighbours = cand[np.argsort(shaw_dist[seed_r, cand], kind="mergesort")]
    per_route = max(1, q // max(1, n_strings))
    chosen = np.zeros(routed.shape[0], np.bool_)
    done_route = np.zeros(routes.shape[0], np.bool_)
    m = 0
    n_done = 0
    for r in neighbours:
        k = route_of[pickup[r]]
        if k < 0 or done_route[k]:
            continue
        done_route[k] = True
        n_done += 1
        n_stops = lens[k] - 2
        length = np.random.randint(1, min(2 * per_route, n_stops) + 1)
        centre = pos_of[pickup[r]]
        start = max(1, min(centre - np.random.randint(0, length), n_stops - length + 1))
        for p in range(start, start + length):
            o = node_request[routes[k, p]]
            if not chosen[o]:
                chosen[o] = True
                out[m] = o
                m += 1
        if m >= q or n_done >= n_strings:
            break
    return m


@njit
def destroy(
    op: int,
    rs: RouteState,
    routed: BoolArray,
    q: int,
    out: IntArray,
    dd: DestroyData,
    data: ProblemData,
) -> int:
    """Run removal operator ``op`` (RANDOM ... STRING).

    Parameters
    ----------
    op : int
        One of :data:`RANDOM`, :data:`WORST`, :data:`SHAW`, :data:`ROUTE`,
        :data:`STRING`.
    rs : RouteState
        The routes (not changed: the caller removes the chosen requests).
    routed : ndarray of bool
        Per request: currently routed.
    q : int
        How many requests to choose (route removal may choose more).
    out : ndarray of int64
        Receives the chosen request ids.
    dd : DestroyData
        Operator settings and relatedness data.
    data : ProblemData
        The problem.

    Returns
    -------
    int
        The count written to ``out``.
    """
    if op == RANDOM:
        return random_removal(routed, q, out)
    if op == WORST:
        return worst_removal(rs, routed, q, dd.worst_randomness, data, out)
    if op == SHAW:
        times = service_times(rs.routes, rs.lens, data)
        return shaw_removal(routed, q, dd, times, data, out)
    if op == ROUTE:
        return route_removal(rs, q, data, out)
    return string_removal(rs, routed, q, dd.n_strings, dd.shaw_dist, data, out)
