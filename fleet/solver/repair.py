"""Repair: insert the requests of a bank greedily or by regret-k (numba, arrays only).

The insertion of each request into each route comes from
:func:`fleet.solver.insertion.insertion_prepared`; the per-route data is
prepared lazily and refreshed only for routes that changed.
"""

from __future__ import annotations

import numpy as np

from fleet.solver.data import (
    INF,
    BoolArray,
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


@njit
def repair(
    rs: RouteState,
    bank: IntArray,
    regret_k: int,
    max_routes: int,
    vehicle_fixed: float,
    noise: float,
    blink: float,
    seed: int,
    data: ProblemData,
) -> BoolArray:
    """Insert the requests in ``bank`` greedily (``regret_k`` 1) or by regret-k.

    With ``regret_k`` 0 the requests are inserted one after the other in bank
    order, each at its cheapest place (SISR-style; combine with ``blink``).

    Parameters
    ----------
    rs : RouteState
        Routes, updated in place.
    bank : ndarray of int64
        Requests to insert.
    regret_k : int
        0 sequential, 1 greedy, k >= 2 regret-k.
    max_routes : int
        Empty routes of the same vehicle class are interchangeable, so only the
        first of each class is tried, and only while fewer than ``max_routes``
        routes are in use.
    vehicle_fixed : float
        Extra cost of opening an empty route.
    noise : float
        When > 0, insertion costs are perturbed uniformly in ``[-noise, noise]``.
    blink : float
        Probability of skipping each candidate position.
    seed : int
        Seed of numba's random stream for this call.
    data : ProblemData
        The problem.

    Returns
    -------
    ndarray of bool
        Over ``bank``: True for the requests inserted.
    """
    np.random.seed(seed)
    return repair_core(rs, bank, regret_k, max_routes, vehicle_fixed, noise, blink, data)


@njit_borrowed
def _route_insertion_cost(
    rs: RouteState,
    k: int,
    p: int,
    d: int,
    prepped: BoolArray,
    durs: FloatArray,
    tws: FloatArray,
    loads: IntArray,
    vehicle_fixed: float,
    noise: float,
    blink: float,
    data: ProblemData,
    ws: Workspace,
) -> tuple[float, int, int]:
    """Repair's cost of inserting request (``p``, ``d``) into route ``k``.

    Prepares the route lazily (:func:`fleet.solver.insertion.route_prep` into
    ``tws[k]``, ``loads[k]``, ``durs[k]``, marked in ``prepped``), takes the
    cheapest insertion from :func:`fleet.solver.insertion.insertion_prepared`
    and, when one is feasible, adds ``vehicle_fixed`` for an empty route and
    uniform noise of amplitude ``noise``.

    Returns
    -------
    tuple of (float, int, int)
        ``(delta, i, j)`` as from ``insertion_prepared``; ``delta`` is ``inf``
        when no position is feasible.
    """
    # One place for the three evaluations in repair_core, so they stay alike: the
    # random draws (blinks, then noise only for a feasible insertion) keep their order.
    routes = rs.routes
    lens = rs.lens
    if not prepped[k]:
        durs[k] = route_prep(routes[k], lens[k], k, data, ws.nodepos, tws[k], loads[k])
        prepped[k] = True
    dl, i, j = insertion_prepared(
        routes[k], lens[k], k, p, d, data, ws, tws[k], loads[k], durs[k], blink
    )
    if dl < INF:
        if lens[k] == 2:
            dl += vehicle_fixed
        if noise > 0.0:
            dl = max(0.0, dl + noise * (2.0 * np.random.random() - 1.0))
    return dl, i, j


@njit_borrowed
def _first_of_class(lens: IntArray, veh_class: IntArray, h: int) -> bool:
    """Whether empty route ``h`` is the first empty route of its vehicle class."""
    for g in range(h):  # noqa: SIM110 - a loop, not all() over a generator: numba kernel
        if lens[g] == 2 and veh_class[g] == veh_class[h]:
            return False
    return True


@njit
def repair_core(
    rs: RouteState,
    bank: IntArray,
    regret_k: int,
    max_routes: int,
    vehicle_fixed: float,
    noise: float,
    blink: float,
    data: ProblemData,
) -> BoolArray:
    """:func:`repair` drawing from numba's random stream as it stands (no reseeding)."""
    routes = rs.routes
    lens = rs.lens
    veh_class = data.veh_class
    pickup = data.pickup
    dropoff = data.dropoff
    K = routes.shape[0]
    R = bank.shape[0]
    maxlen = routes.shape[1]
    ws = new_workspace(data.tt.shape[0], maxlen + 2, data.demand.shape[1])
    buf = ws.buf
    best_d = np.full((R, K), INF)
    best_i = np.zeros((R, K), np.int64)
    best_j = np.zeros((R, K), np.int64)
    done = np.zeros(R, np.bool_)
    active = np.zeros(K, np.bool_)
    # per-route insertion data (route_prep), refreshed when a route changes
    tws = np.empty((K, 4, maxlen + 2))
    loads = np.empty((K, maxlen + 2, data.demand.shape[1]), np.int64)
    durs = np.empty(K)
    prepped = np.zeros(K, np.bool_)

    used = 0
    for k in range(K):
        if lens[k] > 2:
            used += 1

    # which routes may receive insertions: used ones + first empty of each class
    for k in range(K):
        active[k] = lens[k] > 2
    if used < max_routes:
        for k in range(K):
            if lens[k] == 2:
                active[k] = _first_of_class(lens, veh_class, k)
    if regret_k == 0:
        for a in range(R):
            r = bank[a]
            bd = INF
            bk = -1
            bi = -1
            bj = -1
            for k in range(K):
                if not active[k]:
                    continue
                dl, i, j = _route_insertion_cost(
                    rs, k, pickup[r], dropoff[r], prepped, durs, tws, loads,
                    vehicle_fixed, noise, blink, data, ws,
                )  # fmt: skip
                if dl < bd:  # bd <= inf, so only feasible insertions get here
                    bd = dl
                    bk = k
                    bi = i
                    bj = j
            if bk < 0:
                continue
            was_empty = lens[bk] == 2
            m = build_inserted(routes[bk], lens[bk], pickup[r], dropoff[r], bi, bj, buf)
            for q in range(m):
                routes[bk, q] = buf[q]
            lens[bk] = m
            done[a] = True
            prepped[bk] = False
            if was_empty:
                used += 1
                for h in range(K):
                    if lens[h] != 2:
                        continue
                    active[h] = _first_of_class(lens, veh_class, h) and used < max_routes
        return done
    for a in range(R):
        r = bank[a]
        for k in range(K):
            if active[k]:
                dl, i, j = _route_insertion_cost(
                    rs, k, pickup[r], dropoff[r], prepped, durs, tws, loads,
                    vehicle_fixed, noise, blink, data, ws,
                )  # fmt: skip
                best_d[a, k] = dl
                best_i[a, k] = i
                best_j[a, k] = j
    tops = np.empty(max(regret_k, 1))
    while True:
        choice = -1
        choice_k = -1
        best_score = -INF
        for a in range(R):
            if done[a]:
                continue
            # the regret_k smallest costs over routes
            for h in range(regret_k):
                tops[h] = INF
            bk = -1
            for k in range(K):
                c = best_d[a, k]
                if c < tops[regret_k - 1]:
                    h = regret_k - 1
                    while h > 0 and tops[h - 1] > c:
                        tops[h] = tops[h - 1]
                        h -= 1
                    tops[h] = c
                    if h == 0:
                        bk = k
            if bk < 0:
                continue
            if regret_k <= 1:
                score = -tops[0]
            else:
                score = 0.0
                for h in range(1, regret_k):
                    if tops[h] == INF:
                        score += 1e9
                    else:
                        score += tops[h] - tops[0]
                score -= 1e-9 * tops[0]
            if score > best_score:
                best_score = score
                choice = a
                choice_k = bk
        if choice < 0:
            break
        r = bank[choice]
        k = choice_k
        was_empty = lens[k] == 2
        m = build_inserted(
            routes[k], lens[k], pickup[r], dropoff[r], best_i[choice, k], best_j[choice, k], buf
        )
        for q in range(m):
            routes[k, q] = buf[q]
        lens[k] = m
        done[choice] = True
        prepped[k] = False
        if was_empty:
            used += 1
        # refresh the active set and the costs of the changed route(s)
        changed = np.zeros(K, np.bool_)
        changed[k] = True
        if was_empty:
            for h in range(K):
                if lens[h] != 2:
                    continue
                now = _first_of_class(lens, veh_class, h) and used < max_routes
                if now and not active[h]:
                    changed[h] = True
                if active[h] and not now:
                    for a in range(R):
                        best_d[a, h] = INF
                active[h] = now
        for h in range(K):
            if not changed[h] or not active[h]:
                continue
            for a in range(R):
                if done[a]:
                    continue
                r = bank[a]
                dl, i, j = _route_insertion_cost(
                    rs, h, pickup[r], dropoff[r], prepped, durs, tws, loads,
                    vehicle_fixed, noise, blink, data, ws,
                )  # fmt: skip
                best_d[a, h] = dl
                best_i[a, h] = i
                best_j[a, h] = j
    return done
