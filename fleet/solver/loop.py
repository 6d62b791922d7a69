"""The ALNS iteration loop as one numba kernel.

:func:`iterate` runs a chunk of destroy/repair iterations without returning to
Python: pick operators by roulette over the adaptive weights, remove, repair,
polish candidates close to the best (relocate search over the requests of the
changed routes, then 2-opt* tail exchanges), accept by simulated annealing,
keep the best and collect operator scores. The Python
driver (:mod:`fleet.solver.alns`) owns the clock, the temperature schedule,
the weight updates between chunks and the vehicle-reduction phases.

A solution is ``routes`` (K, width) / ``lens`` (K) as in
:mod:`fleet.solver.kernels`, ``bank`` (requests not routed; the first
``info[0]`` entries are valid) and ``dist`` (``dist[0]``, total travel cost).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fleet.solver.destroy import destroy
from fleet.solver.kernels import (
    relocate_search,
    remove_nodes,
    repair_core,
    route_costs,
    tail_exchange_search,
)

# repair operators, in the order of ``alns.REPAIRS``
GREEDY, REGRET2, REGRET3, REGRETM, GREEDY_NOISE, REGRET2_NOISE = 0, 1, 2, 3, 4, 5
BLINK_RANDOM, BLINK_TIME, BLINK_FAR = 6, 7, 8
N_REPAIRS = 9


@njit(cache=True)
def seed_stream(seed):
    """Seed numba's random generator (one stream per process)."""
    np.random.seed(seed)


@njit(cache=True)
def used_routes(lens):
    """Number of non-empty routes."""
    c = 0
    for k in range(lens.shape[0]):
        if lens[k] > 2:
            c += 1
    return c


@njit(cache=True)
def _roulette(w):
    total = 0.0
    for x in w:
        total += x
    r = np.random.random() * total
    acc = 0.0
    for i in range(w.shape[0]):
        acc += w[i]
        if r < acc:
            return i
    return w.shape[0] - 1


@njit(cache=True)
def _better(nb_a, used_a, dist_a, nb_b, used_b, dist_b, hierarchical):
    """Lexicographic (unplaced, vehicles if hierarchical, cost) comparison a < b."""
    if nb_a != nb_b:
        return nb_a < nb_b
    if hierarchical and used_a != used_b:
        return used_a < used_b
    return dist_a < dist_b - 1e-9


@njit(cache=True)
def _copy(src_r, src_l, src_b, src_info, src_dist, dst_r, dst_l, dst_b, dst_info, dst_dist):
    K = src_r.shape[0]
    for k in range(K):
        n = src_l[k]
        for p in range(n):
            dst_r[k, p] = src_r[k, p]
        dst_l[k] = n
    nb = src_info[0]
    for t in range(nb):
        dst_b[t] = src_b[t]
    dst_info[0] = nb
    dst_dist[0] = src_dist[0]


@njit(cache=True)
def _order_bank(bank, nb, op, early, pickup, far):
    """Order the bank for the sequential (blink) repairs."""
    if op == BLINK_RANDOM:
        for t in range(nb - 1, 0, -1):
            s = np.random.randint(0, t + 1)
            bank[t], bank[s] = bank[s], bank[t]
        return
    keys = np.empty(nb)
    for t in range(nb):
        r = bank[t]
        if op == BLINK_TIME:
            keys[t] = early[pickup[r]] + np.random.random()
        else:  # farthest from the depot first
            keys[t] = -(far[r] + np.random.random())
    order = np.argsort(keys, kind="mergesort")
    tmp = bank[:nb].copy()
    for t in range(nb):
        bank[t] = tmp[order[t]]


@njit(cache=True)
def _changed_requests(old_r, old_l, new_r, new_l, kind, node_request):
    """Requests on the routes that differ between two solutions, in random order.

    Relocate search after a repair starts from these: the rest of the solution
    was already polished when it was accepted (or is far from the change).
    """
    K = old_r.shape[0]
    out = np.empty(new_r.shape[0] * new_r.shape[1], np.int64)
    m = 0
    for k in range(K):
        same = old_l[k] == new_l[k]
        if same:
            for p in range(new_l[k]):
                if old_r[k, p] != new_r[k, p]:
                    same = False
                    break
        if same:
            continue
        for p in range(1, new_l[k] - 1):
            v = new_r[k, p]
            if kind[v] == 1:
                out[m] = node_request[v]
                m += 1
    out = out[:m]
    for t in range(m - 1, 0, -1):
        s = np.random.randint(0, t + 1)
        out[t], out[s] = out[s], out[t]
    return out


@njit(cache=True)
def iterate(
    n_iter,
    temp0,
    temp1,
    cur_r,
    cur_l,
    cur_b,
    cur_info,
    cur_dist,
    best_r,
    best_l,
    best_b,
    best_info,
    best_dist,
    w_rm,
    w_rp,
    s_rm,
    s_rp,
    u_rm,
    u_rp,
    counters,
    max_routes,
    fixed,
    penalty,
    hierarchical,
    stop_when_reduced,
    min_remove,
    q_max,
    local_search,
    ls_window,
    noise_level,
    blink,
    score_best,
    score_better,
    score_accepted,
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
    far,
    veh_class,
    node_request,
    tt,
    cost,
    serv,
    early,
    late,
    demand,
    kind,
    pair,
    maxride,
    cap,
    shift_s,
    shift_e,
    maxdur,
    pickup,
    dropoff,
):
    """Run up to ``n_iter`` ALNS iterations on ``cur``/``best`` in place.

    The temperature falls geometrically from ``temp0`` to ``temp1`` over the
    chunk. Operator scores and uses are added to ``s_*``/``u_*``;
    ``counters`` accumulates (accepted, candidates with unplaced requests,
    candidates as costly as the current solution, new bests). With
    ``stop_when_reduced`` the chunk ends as soon as the current solution
    places every request on at most ``max_routes`` routes. Returns the number
    of iterations run.
    """
    K = cur_r.shape[0]
    R = pickup.shape[0]
    nn = tt.shape[0]
    cand_r = np.empty_like(cur_r)
    cand_l = np.empty_like(cur_l)
    cand_b = np.empty_like(cur_b)
    cand_info = np.zeros(1, np.int64)
    cand_dist = np.zeros(1)
    victims = np.empty(R + 1, np.int64)
    flag = np.zeros(nn, np.bool_)
    routed = np.ones(R, np.bool_)
    for it in range(n_iter):
        frac = it / max(1, n_iter)
        temp = temp0 * (temp1 / temp0) ** frac if temp0 > 0.0 else 0.0
        _copy(cur_r, cur_l, cur_b, cur_info, cur_dist, cand_r, cand_l, cand_b, cand_info, cand_dist)
        nb = cand_info[0]
        n_routed = R - nb
        q = 0
        if n_routed > 0:
            q = np.random.randint(min(min_remove, n_routed), min(q_max, n_routed) + 1)
        a = _roulette(w_rm)
        b = _roulette(w_rp)
        if q > 0:
            routed[:] = True
            for t in range(nb):
                routed[cand_b[t]] = False
            nv = destroy(
                a,
                cand_r,
                cand_l,
                routed,
                q,
                victims,
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
            )
            for t in range(nv):
                r = victims[t]
                flag[pickup[r]] = True
                flag[dropoff[r]] = True
                cand_b[nb] = r
                nb += 1
            remove_nodes(cand_r, cand_l, flag)
            for t in range(nv):
                flag[pickup[victims[t]]] = False
                flag[dropoff[victims[t]]] = False
        # repair
        bl = 0.0
        regret_k = 1
        if b >= BLINK_RANDOM:
            regret_k = 0
            bl = blink
            _order_bank(cand_b, nb, b, early, pickup, far)
        elif b in (REGRET2, REGRET2_NOISE):
            regret_k = 2
        elif b == REGRET3:
            regret_k = 3
        elif b == REGRETM:
            regret_k = max(2, max_routes)
        regret_k = min(regret_k, K)
        noise = noise_level if b in (GREEDY_NOISE, REGRET2_NOISE) else 0.0
        if nb > 0:
            done = repair_core(
                cand_r,
                cand_l,
                cand_b[:nb],
                regret_k,
                max_routes,
                fixed,
                noise,
                bl,
                veh_class,
                tt,
                cost,
                serv,
                early,
                late,
                demand,
                kind,
                pair,
                maxride,
                cap,
                shift_s,
                shift_e,
                maxdur,
                pickup,
                dropoff,
            )
            m = 0
            for t in range(nb):
                if not done[t]:
                    cand_b[m] = cand_b[t]
                    m += 1
            nb = m
        cand_info[0] = nb
        dist = route_costs(cand_r, cand_l, cost).sum()
        if local_search and nb == 0 and dist < best_dist[0] * (1.0 + ls_window):
            order = _changed_requests(cur_r, cur_l, cand_r, cand_l, kind, node_request)
            relocate_search(
                cand_r,
                cand_l,
                order,
                fixed,
                veh_class,
                tt,
                cost,
                serv,
                early,
                late,
                demand,
                kind,
                pair,
                maxride,
                cap,
                shift_s,
                shift_e,
                maxdur,
                pickup,
                dropoff,
            )
            tail_exchange_search(
                cand_r, cand_l, tt, cost, serv, early, late, demand, kind, pair, maxride, cap,
                shift_s, shift_e, maxdur,
            )  # fmt: skip
            dist = route_costs(cand_r, cand_l, cost).sum()
        cand_dist[0] = dist
        f_cur = cur_dist[0] + penalty * cur_info[0]
        f_new = dist + penalty * nb
        if nb > 0:
            counters[1] += 1
        elif abs(dist - cur_dist[0]) < 1e-9:
            counters[2] += 1
        score = 0.0
        used_c = used_routes(cand_l)
        if _better(nb, used_c, dist, best_info[0], used_routes(best_l), best_dist[0], hierarchical):
            _copy(
                cand_r, cand_l, cand_b, cand_info, cand_dist, best_r, best_l, best_b, best_info,
                best_dist,
            )  # fmt: skip
            score = score_best
            counters[3] += 1
        accept = False
        if f_new < f_cur - 1e-9:
            score = max(score, score_better)
            accept = True
        elif f_new - f_cur < 1e-9 or (
            temp > 0.0 and np.random.random() < np.exp(-(f_new - f_cur) / temp)
        ):
            if f_new != f_cur:
                score = max(score, score_accepted)
            accept = True
        if accept:
            _copy(
                cand_r, cand_l, cand_b, cand_info, cand_dist, cur_r, cur_l, cur_b, cur_info,
                cur_dist,
            )  # fmt: skip
            counters[0] += 1
        s_rm[a] += score
        s_rp[b] += score
        u_rm[a] += 1
        u_rp[b] += 1
        if stop_when_reduced and cur_info[0] == 0 and used_routes(cur_l) <= max_routes:
            return it + 1
    return n_iter
