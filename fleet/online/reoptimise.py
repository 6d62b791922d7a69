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

:func:`improve` is a pure function of a :class:`fleet.online.plan.RoutePlan`
(and the stop pool it refers to); the dispatcher builds the plan and adopts
the result (:meth:`fleet.online.dispatcher.Dispatcher.reoptimise`).
"""

from __future__ import annotations

import logging

import numpy as np

from fleet.model import PICKUP
from fleet.online.plan import RoutePlan
from fleet.online.pool import StopPool
from fleet.solver.data import RouteState, problem_data
from fleet.solver.relocate import relocate_search
from fleet.solver.repair import repair
from fleet.solver.routes import remove_nodes, route_costs

log = logging.getLogger(__name__)


def improve(
    plan: RoutePlan,
    pool: StopPool,
    cost: np.ndarray,
    *,
    horizon: float,
    iterations: int,
    max_remove: int,
    rng: np.random.Generator,
) -> tuple[RoutePlan, int]:
    """A plan at most as costly as ``plan`` that keeps every promise.

    Parameters
    ----------
    plan : RoutePlan
        The routes of the vehicles that accept work (not changed).
    pool : StopPool
        The stops the routes refer to (read only).
    cost : ndarray
        Route-cost matrix of the pool's nodes (time or distance).
    horizon : float
        Only requests with an earliest pickup up to this dispatcher time move.
    iterations : int
        Destroy-and-repair rounds after the relocate pass.
    max_remove : int
        Most requests removed per round.
    rng : numpy.random.Generator
        The dispatcher's generator (the same draws give the same plan).

    Returns
    -------
    (RoutePlan, int)
        The improved plan (``plan`` itself when nothing moved is possible) and
        the number of open requests considered (0: nothing could change).
    """
    picks = np.array(
        [
            int(n)
            for a in range(plan.size)
            for n in plan.open_nodes(a)
            if pool.kind[n] == PICKUP and pool.early[n] <= horizon
        ],
        dtype=np.int64,
    )
    R = picks.size
    if R == 0:
        return plan, 0
    drops = pool.pair[picks].astype(np.int64)
    rows = plan.size
    width = int(plan.lens.max()) + 2 * R + 4
    routes = np.zeros((rows, width), dtype=np.int64)
    w = min(width, plan.routes.shape[1])
    routes[:, :w] = plan.routes[:, :w]
    lens = plan.lens.copy()
    data = problem_data(
        tt=pool.tt, cost=cost, serv=pool.serv, early=pool.early, late=pool.late,
        demand=pool.demand, kind=pool.kind, pair=pool.pair, maxride=pool.maxride,
        node_request=pool.request, cap=plan.cap.copy(), shift_s=plan.shift_s.copy(),
        shift_e=plan.shift_e.copy(), maxdur=plan.maxdur.copy(), pickup=picks, dropoff=drops,
    )  # fmt: skip
    budget = plan.energy_budget_m

    def cost_of(r: np.ndarray, n: np.ndarray) -> float:
        return float(route_costs(r, n, cost).sum())

    def energy_ok(r: np.ndarray, n: np.ndarray) -> bool:
        if not np.isfinite(budget).any():
            return True
        return bool(np.all(route_costs(r, n, pool.dd) <= budget + 1e-6))

    cur_cost = cost_of(routes, lens)
    # 1. relocate
    trial_r, trial_n = routes.copy(), lens.copy()
    order = rng.permutation(R).astype(np.int64)
    relocate_search(RouteState(trial_r, trial_n), order, 0.0, data)
    c = cost_of(trial_r, trial_n)
    if c < cur_cost - 1e-9 and energy_ok(trial_r, trial_n):
        routes, lens, cur_cost = trial_r, trial_n, c
    # 2. destroy and repair
    if R >= 2:
        tp = pool.tt[np.ix_(picks, picks)] + pool.tt[np.ix_(drops, drops)]
        for _ in range(iterations):
            q = int(rng.integers(2, min(max_remove, R) + 1))
            seed_r = int(rng.integers(R))
            related = np.argsort(tp[seed_r] + tp[:, seed_r] + rng.random(R), kind="stable")
            victims = related[:q].astype(np.int64)
            cand_r, cand_n = routes.copy(), lens.copy()
            flag = np.zeros(pool.capacity, dtype=np.bool_)
            flag[picks[victims]] = True
            flag[drops[victims]] = True
            remove_nodes(cand_r, cand_n, flag)
            done = repair(
                RouteState(cand_r, cand_n), victims, 2, rows, 0.0, 0.0, 0.0,
                int(rng.integers(2**31)), data,
            )  # fmt: skip
            if not done.all():
                continue
            c = cost_of(cand_r, cand_n)
            if c < cur_cost - 1e-9 and energy_ok(cand_r, cand_n):
                routes, lens, cur_cost = cand_r, cand_n, c
    log.debug("re-optimised %d open requests: route cost %.1f", R, cur_cost)
    return plan.with_routes(routes, lens), int(R)
