"""Numba removal (destroy) operators of the ALNS.

Every operator picks requests that are currently routed and writes their ids
into ``out``, returning how many it chose. Solutions are the arrays of
:mod:`fleet.solver.kernels` (``routes``/``lens``) plus ``routed``, a boolean
mask over requests. Random draws come from numba's generator, which the
caller seeds once per run, so a run is reproducible.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fleet.solver.kernels import removal_gains, service_times

RANDOM, WORST, SHAW, ROUTE, STRING = 0, 1, 2, 3, 4
N_REMOVALS = 5


@njit(cache=True)
def routed_list(routed):
    """Ids of the routed requests, ascending."""
    out = np.empty(routed.shape[0], np.int64)
    m = 0
    for r in range(routed.shape[0]):
        if routed[r]:
            out[m] = r
            m += 1
    return out[:m]


@njit(cache=True)
def random_removal(routed, q, out):
    """``q`` distinct routed requests, uniformly."""
    cand = routed_list(routed)
    n = cand.shape[0]
    q = min(q, n)
    for t in range(q):  # partial Fisher-Yates
        s = np.random.randint(t, n)
        cand[t], cand[s] = cand[s], cand[t]
        out[t] = cand[t]
    return q


@njit(cache=True)
def worst_removal(routes, lens, routed, q, randomness, cost, kind, pair, node_request, out):
    """Requests whose removal saves most, with Ropke-Pisinger randomisation ``y**p``."""
    gains = removal_gains(routes, lens, cost, kind, pair, node_request, routed.shape[0])
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


@njit(cache=True)
def shaw_removal(
    routes,
    lens,
    routed,
    q,
    randomness,
    w_dist,
    w_time,
    w_load,
    shaw_dist,
    horizon,
    loads,
    load_span,
    times,
    pickup,
    dropoff,
    out,
):
    """Shaw removal: requests related in place, time and load to ones already chosen.

    ``times`` is the start of service per node (see ``service_times``).
    """
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
        c = order[int(n * np.random.random() ** randomness)]
        out[t] = cand[c]
        cand[c] = cand[n - 1]  # order of the rest is irrelevant: relatedness is recomputed
        n -= 1
    return q


@njit(cache=True)
def route_removal(routes, lens, q, kind, node_request, out):
    """Whole random routes until at least ``max(1, q // 2)`` requests are chosen."""
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
            if kind[v] == 1:
                out[m] = node_request[v]
                m += 1
        if m >= max(1, q // 2):
            break
    return m


@njit(cache=True)
def string_removal(routes, lens, routed, q, n_strings, shaw_dist, pickup, node_request, out):
    """SISR-like: strings of consecutive stops cut from routes near a seed request."""
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


@njit(cache=True)
def destroy(
    op,
    routes,
    lens,
    routed,
    q,
    out,
    worst_randomness,
    shaw_randomness,
    w_dist,
    w_time,
    w_load,
    n_strings,
    shaw_dist,
    horizon,
    loads,
    load_span,
    tt,
    cost,
    serv,
    early,
    late,
    kind,
    pair,
    maxride,
    shift_s,
    shift_e,
    maxdur,
    pickup,
    dropoff,
    node_request,
):
    """Run removal operator ``op`` (RANDOM ... STRING); returns the count written to ``out``."""
    if op == RANDOM:
        return random_removal(routed, q, out)
    if op == WORST:
        return worst_removal(
            routes, lens, routed, q, worst_randomness, cost, kind, pair, node_request, out
        )
    if op == SHAW:
        times = service_times(
            routes, lens, tt, serv, early, late, kind, pair, maxride, shift_s, shift_e, maxdur
        )
        return shaw_removal(
            routes,
            lens,
            routed,
            q,
            shaw_randomness,
            w_dist,
            w_time,
            w_load,
            shaw_dist,
            horizon,
            loads,
            load_span,
            times,
            pickup,
            dropoff,
            out,
        )
    if op == ROUTE:
        return route_removal(routes, lens, q, kind, node_request, out)
    return string_removal(routes, lens, routed, q, n_strings, shaw_dist, pickup, node_request, out)
