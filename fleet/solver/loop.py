"""The ALNS iteration loop as one numba kernel.

:func:`iterate` runs a chunk of destroy/repair iterations without returning to
Python: pick operators by roulette over the adaptive weights, remove, repair,
polish candidates close to the best (relocate search over the requests of the
changed routes, then 2-opt* tail exchanges), accept by simulated annealing,
keep the best and collect operator scores. The helpers that run most often
(schedule, insertion, repair's cost per route, relocate's moves) are
compiled without reference counting (:func:`fleet.solver.jit.njit_borrowed`). The Python
driver (:mod:`fleet.solver.alns`) owns the clock, the temperature schedule,
the weight updates between chunks and the vehicle-reduction phases.

A solution is a :class:`Packed`: ``routes`` (K, width) / ``lens`` (K) as in
:class:`fleet.solver.data.RouteState`, ``bank`` (requests not routed; the
first ``info[0]`` entries are valid) and ``dist`` (``dist[0]``, total travel
cost).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from fleet.solver.data import FloatArray, IntArray, KindArray, ProblemData, RouteState
from fleet.solver.destroy import DestroyData, destroy
from fleet.solver.exchange import tail_exchange_search
from fleet.solver.jit import njit
from fleet.solver.relocate import relocate_search
from fleet.solver.repair import repair_core
from fleet.solver.routes import remove_nodes, route_costs

# repair operators, in the order of ``alns.REPAIRS``
GREEDY, REGRET2, REGRET3, REGRETM, GREEDY_NOISE, REGRET2_NOISE = 0, 1, 2, 3, 4, 5
BLINK_RANDOM, BLINK_TIME, BLINK_FAR = 6, 7, 8
N_REPAIRS = 9


class Packed(NamedTuple):
    """A solution as arrays changed in place: routes, bank of unplaced requests, cost.

    ``bank`` (R) int64 holds the unplaced requests in its first ``info[0]``
    entries; ``dist`` (1) the total travel cost.
    """

    routes: IntArray
    lens: IntArray
    bank: IntArray
    info: IntArray
    dist: FloatArray


class OperatorStats(NamedTuple):
    """Adaptive weights of the removal (``rm``) and repair (``rp``) operators.

    ``w_*`` weights (read), ``s_*`` scores and ``u_*`` uses (added to);
    ``counters`` (4) accumulates accepted candidates, candidates with unplaced
    requests, candidates as costly as the current solution and new bests.
    """

    w_rm: FloatArray
    w_rp: FloatArray
    s_rm: FloatArray
    s_rp: FloatArray
    u_rm: FloatArray
    u_rp: FloatArray
    counters: IntArray


class LoopConfig(NamedTuple):
    """Settings of one chunk of iterations.

    ``max_routes``: routes a repair may use; ``fixed``: cost of a used vehicle;
    ``penalty``: cost of an unplaced request in the acceptance test;
    ``hierarchical``: vehicles before cost (Li & Lim); ``stop_when_reduced``:
    end the chunk once every request fits on ``max_routes`` routes;
    ``min_remove``/``q_max``: removal count range; ``local_search`` and
    ``ls_window``: polish candidates within this share of the best;
    ``noise_level``: amplitude of the noisy repairs; ``blink``: skip
    probability of the blink repairs; ``score_*``: operator rewards; ``far``
    (R): pickup cost from the depot, for the blink-far order.
    """

    max_routes: int
    fixed: float
    penalty: float
    hierarchical: bool
    stop_when_reduced: bool
    min_remove: int
    q_max: int
    local_search: bool
    ls_window: float
    noise_level: float
    blink: float
    score_best: float
    score_better: float
    score_accepted: float
    far: FloatArray


@njit
def seed_stream(seed: int) -> None:
    """Seed numba's random generator (one stream per process)."""
    np.random.seed(seed)


@njit
def used_routes(lens: IntArray) -> int:
    """Number of non-empty routes."""
    c = 0
    for k in range(lens.shape[0]):
        if lens[k] > 2:
            c += 1
    return c


@njit
def _roulette(w: FloatArray) -> int:
    """Index drawn with probability proportional to its weight."""
    total = 0.0
    for x in w:
        total += x
    r = np.random.random() * total
    acc = 0.0
    for i in range(w.shape[0]):
        acc += w[i]
        if r < acc:
            return i
    return w.shape[0] - 1  # type: ignore[no-any-return]


@njit
def _better(
    nb_a: int,
    used_a: int,
    dist_a: float,
    nb_b: int,
    used_b: int,
    dist_b: float,
    hierarchical: bool,
) -> bool:
    """Lexicographic (unplaced, vehicles if hierarchical, cost) comparison a < b."""
    if nb_a != nb_b:
        return nb_a < nb_b
    if hierarchical and used_a != used_b:
        return used_a < used_b
    return dist_a < dist_b - 1e-9


@njit
def _copy(src: Packed, dst: Packed) -> None:
    """Copy solution ``src`` into ``dst`` (the used part of each array)."""
    K = src.routes.shape[0]
    for k in range(K):
        n = src.lens[k]
        for p in range(n):
            dst.routes[k, p] = src.routes[k, p]
        dst.lens[k] = n
    nb = src.info[0]
    for t in range(nb):
        dst.bank[t] = src.bank[t]
    dst.info[0] = nb
    dst.dist[0] = src.dist[0]


@njit
def _order_bank(
    bank: IntArray, nb: int, op: int, early: FloatArray, pickup: IntArray, far: FloatArray
) -> None:
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


@njit
def _changed_requests(
    old_r: IntArray,
    old_l: IntArray,
    new_r: IntArray,
    new_l: IntArray,
    kind: KindArray,
    node_request: IntArray,
) -> IntArray:
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


@njit
def iterate(
    n_iter: int,
    temp0: float,
    temp1: float,
    cur: Packed,
    best: Packed,
    ops: OperatorStats,
    cfg: LoopConfig,
    dd: DestroyData,
    data: ProblemData,
) -> int:
    """Run up to ``n_iter`` ALNS iterations on ``cur``/``best`` in place.

    Parameters
    ----------
    n_iter : int
        Iterations in this chunk.
    temp0, temp1 : float
        The temperature falls geometrically from ``temp0`` to ``temp1`` over
        the chunk.
    cur, best : Packed
        Current and best solution, updated in place.
    ops : OperatorStats
        Operator weights; scores and uses are added to it.
    cfg : LoopConfig
        Settings of this chunk.
    dd : DestroyData
        Removal operator settings and relatedness data.
    data : ProblemData
        The problem.

    Returns
    -------
    int
        Iterations run (fewer than ``n_iter`` when ``cfg.stop_when_reduced``
        and the current solution places every request on at most
        ``cfg.max_routes`` routes).
    """
    pickup = data.pickup
    dropoff = data.dropoff
    cost = data.cost
    counters = ops.counters
    max_routes = cfg.max_routes
    K = cur.routes.shape[0]
    R = pickup.shape[0]
    nn = data.tt.shape[0]
    cand = Packed(
        np.empty_like(cur.routes),
        np.empty_like(cur.lens),
        np.empty_like(cur.bank),
        np.zeros(1, np.int64),
        np.zeros(1),
    )
    cand_rs = RouteState(cand.routes, cand.lens)
    cand_r = cand.routes
    cand_l = cand.lens
    cand_b = cand.bank
    victims = np.empty(R + 1, np.int64)
    flag = np.zeros(nn, np.bool_)
    routed = np.ones(R, np.bool_)
    for it in range(n_iter):
        frac = it / max(1, n_iter)
        temp = temp0 * (temp1 / temp0) ** frac if temp0 > 0.0 else 0.0
        _copy(cur, cand)
        nb = cand.info[0]
        n_routed = R - nb
        q = 0
        if n_routed > 0:
            q = np.random.randint(min(cfg.min_remove, n_routed), min(cfg.q_max, n_routed) + 1)
        a = _roulette(ops.w_rm)
        b = _roulette(ops.w_rp)
        if q > 0:
            routed[:] = True
            for t in range(nb):
                routed[cand_b[t]] = False
            nv = destroy(a, cand_rs, routed, q, victims, dd, data)
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
            bl = cfg.blink
            _order_bank(cand_b, nb, b, data.early, pickup, cfg.far)
        elif b in (REGRET2, REGRET2_NOISE):
            regret_k = 2
        elif b == REGRET3:
            regret_k = 3
        elif b == REGRETM:
            regret_k = max(2, max_routes)
        regret_k = min(regret_k, K)
        noise = cfg.noise_level if b in (GREEDY_NOISE, REGRET2_NOISE) else 0.0
        if nb > 0:
            done = repair_core(
                cand_rs, cand_b[:nb], regret_k, max_routes, cfg.fixed, noise, bl, data
            )
            m = 0
            for t in range(nb):
                if not done[t]:
                    cand_b[m] = cand_b[t]
                    m += 1
            nb = m
        cand.info[0] = nb
        dist = route_costs(cand_r, cand_l, cost).sum()
        if cfg.local_search and nb == 0 and dist < best.dist[0] * (1.0 + cfg.ls_window):
            order = _changed_requests(
                cur.routes, cur.lens, cand_r, cand_l, data.kind, data.node_request
            )
            relocate_search(cand_rs, order, cfg.fixed, data)
            tail_exchange_search(cand_rs, data)
            dist = route_costs(cand_r, cand_l, cost).sum()
        cand.dist[0] = dist
        f_cur = cur.dist[0] + cfg.penalty * cur.info[0]
        f_new = dist + cfg.penalty * nb
        if nb > 0:
            counters[1] += 1
        elif abs(dist - cur.dist[0]) < 1e-9:
            counters[2] += 1
        score = 0.0
        used_c = used_routes(cand_l)
        if _better(
            nb,
            used_c,
            dist,
            best.info[0],
            used_routes(best.lens),
            best.dist[0],
            cfg.hierarchical,
        ):
            _copy(cand, best)
            score = cfg.score_best
            counters[3] += 1
        accept = False
        if f_new < f_cur - 1e-9:
            score = max(score, cfg.score_better)
            accept = True
        elif f_new - f_cur < 1e-9 or (
            temp > 0.0 and np.random.random() < np.exp(-(f_new - f_cur) / temp)
        ):
            if f_new != f_cur:
                score = max(score, cfg.score_accepted)
            accept = True
        if accept:
            _copy(cand, cur)
            counters[0] += 1
        ops.s_rm[a] += score
        ops.s_rp[b] += score
        ops.u_rm[a] += 1
        ops.u_rp[b] += 1
        if cfg.stop_when_reduced and cur.info[0] == 0 and used_routes(cur.lens) <= max_routes:
            return it + 1
    return n_iter
