"""Periodic re-optimisation of the plans: better routes, the same promises.

Only the *open* part of each plan moves: requests whose pickup has not
started and is due within ``reoptimise_horizon_s`` (a rolling horizon: trips
booked for later in the day are improved when they come closer).
Vehicles' start nodes and passengers on board stay where they are (their
nodes are pinned to the start time, so nothing can be placed before them),
and every promise is a time window of the nodes, so the static
kernels cannot produce a plan that breaks one.

Steps, on the vehicles that accept work:

1. relocate search (:func:`fleet.solver.relocate.relocate_search`): move one
   request at a time to its best place in any vehicle while that lowers the
   total cost;
2. a few destroy-and-repair rounds (remove requests related by place and
   time, reinsert by regret-2 with :func:`fleet.solver.repair.repair`),
   each kept only if every request was placed again and the cost fell.

A candidate is also refused if some vehicle's battery would not cover its new
plan. The result never costs more than the plans it started from.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from fleet.model import PICKUP
from fleet.solver.data import RouteState, problem_data
from fleet.solver.relocate import relocate_search
from fleet.solver.repair import repair
from fleet.solver.routes import remove_nodes, route_costs

if TYPE_CHECKING:
    from fleet.online.dispatcher import Dispatcher

log = logging.getLogger(__name__)


def improve(d: Dispatcher) -> dict[str, float]:
    """Re-optimise the dispatcher's open plans in place (call at the current time).

    Returns
    -------
    dict
        ``cost_before``, ``cost_after``, ``moved`` (requests now on another
        vehicle or position), ``requests`` (open requests considered).
    """
    cfg = d.config
    pool = d.pool
    ks = [v.index for v in d.vehicles if d._accepting(v)]
    stats = {"cost_before": d.total_cost(), "cost_after": d.total_cost(), "moved": 0.0,
             "requests": 0.0}  # fmt: skip
    if len(ks) == 0 or cfg.policy != "insertion":
        return stats
    kidx = np.asarray(ks, dtype=np.int64)
    horizon = d.now + cfg.reoptimise_horizon_s
    picks = np.array(
        [
            int(n)
            for k in ks
            for n in d._plan_nodes(k)
            if pool.kind[n] == PICKUP and pool.early[n] <= horizon
        ],
        dtype=np.int64,
    )
    R = picks.size
    stats["requests"] = float(R)
    if R == 0:
        return stats
    drops = pool.pair[picks].astype(np.int64)
    width = int(d.lens[kidx].max()) + 2 * R + 4
    routes = np.zeros((kidx.size, width), dtype=np.int64)
    w = min(width, d.routes.shape[1])
    routes[:, :w] = d.routes[kidx, :w]
    lens = d.lens[kidx].copy()
    before = routes.copy(), lens.copy()
    data = problem_data(
        tt=pool.tt, cost=d.cost, serv=pool.serv, early=pool.early, late=pool.late,
        demand=pool.demand, kind=pool.kind, pair=pool.pair, maxride=pool.maxride,
        node_request=pool.request, cap=d.cap[kidx].copy(), shift_s=d.shift_s[kidx].copy(),
        shift_e=d.shift_e[kidx].copy(), maxdur=d.maxdur[kidx].copy(), pickup=picks,
        dropoff=drops,
    )  # fmt: skip
    budget = np.array([d._budget_m(d.vehicles[k], d._soc_at_start(d.vehicles[k])) for k in ks])

    def cost_of(r: np.ndarray, n: np.ndarray) -> float:
        return float(route_costs(r, n, d.cost).sum())

    def energy_ok(r: np.ndarray, n: np.ndarray) -> bool:
        if not np.isfinite(budget).any():
            return True
        return bool(np.all(route_costs(r, n, pool.dd) <= budget + 1e-6))

    cur_cost = cost_of(routes, lens)
    # 1. relocate
    trial_r, trial_n = routes.copy(), lens.copy()
    order = d.rng.permutation(R).astype(np.int64)
    relocate_search(RouteState(trial_r, trial_n), order, 0.0, data)
    c = cost_of(trial_r, trial_n)
    if c < cur_cost - 1e-9 and energy_ok(trial_r, trial_n):
        routes, lens, cur_cost = trial_r, trial_n, c
    # 2. destroy and repair
    if R >= 2:
        tp = pool.tt[np.ix_(picks, picks)] + pool.tt[np.ix_(drops, drops)]
        for _ in range(cfg.reoptimise_iterations):
            q = int(d.rng.integers(2, min(cfg.max_remove, R) + 1))
            seed_r = int(d.rng.integers(R))
            related = np.argsort(tp[seed_r] + tp[:, seed_r] + d.rng.random(R), kind="stable")
            victims = related[:q].astype(np.int64)
            cand_r, cand_n = routes.copy(), lens.copy()
            flag = np.zeros(pool.capacity, dtype=np.bool_)
            flag[picks[victims]] = True
            flag[drops[victims]] = True
            remove_nodes(cand_r, cand_n, flag)
            done = repair(
                RouteState(cand_r, cand_n), victims, 2, kidx.size, 0.0, 0.0, 0.0,
                int(d.rng.integers(2**31)), data,
            )  # fmt: skip
            if not done.all():
                continue
            c = cost_of(cand_r, cand_n)
            if c < cur_cost - 1e-9 and energy_ok(cand_r, cand_n):
                routes, lens, cur_cost = cand_r, cand_n, c
    # write back the vehicles that changed
    changed = []
    for a, k in enumerate(ks):
        n = int(lens[a])
        if n != before[1][a] or not np.array_equal(routes[a, :n], before[0][a, :n]):
            changed.append((a, k))
    if changed:
        d._ensure_width(max(0, int(lens.max()) - int(d.lens.max())))
        for a, k in changed:
            n = int(lens[a])
            assert np.array_equal(routes[a, : 1 + d.vehicles[k].n_onboard],
                                  d.routes[k, : 1 + d.vehicles[k].n_onboard])  # fmt: skip
            for node in routes[a, 1 + d.vehicles[k].n_onboard : n - 1]:
                if pool.kind[node] == PICKUP:
                    rec = d.records[int(pool.request[node])]
                    if rec.vehicle != k:
                        rec.vehicle = k
                        stats["moved"] += 1
            d._apply(k, routes[a], n)
    stats["cost_after"] = d.total_cost()
    d.stats["reoptimisations"] += 1
    d.stats["reoptimise_moves"] += int(stats["moved"])
    log.debug(
        "re-optimised %d open requests: cost %.1f -> %.1f, %d moved",
        R, stats["cost_before"], stats["cost_after"], stats["moved"],
    )  # fmt: skip
    return stats
