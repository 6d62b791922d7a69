"""Adaptive large neighbourhood search for dial-a-ride and PDPTW (Ropke & Pisinger 2006).

Construction by regret insertion, then iterations of *destroy* (random, worst,
Shaw-related, route removal) and *repair* (greedy, regret-2/3/m, with and
without noise), chosen by adaptive roulette weights and accepted by simulated
annealing. Requests that cannot be placed wait in a request bank at a large
penalty. For the hierarchical objective (vehicles first, Li & Lim) a first
phase repeatedly empties a route and searches for a solution with one vehicle
fewer. The hot loops (schedule and insertion evaluation) are numba kernels in
:mod:`fleet.solver.kernels`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from fleet.model import Instance, Solution
from fleet.solver import kernels as kr

log = logging.getLogger(__name__)

REMOVALS = ("random", "worst", "shaw", "route", "string")
REPAIRS = (
    "greedy",
    "regret2",
    "regret3",
    "regretm",
    "greedy-noise",
    "regret2-noise",
    "blink-random",
    "blink-time",
    "blink-far",
)


@dataclass(frozen=True, kw_only=True)
class ALNSParams:
    """Tuning knobs of the ALNS (defaults after Ropke & Pisinger 2006, scaled for seconds)."""

    min_remove: int = 2
    max_remove_share: float = 0.3
    max_remove: int = 30
    start_worse: float = 0.02  # a solution this much worse is accepted with p = 0.5 at start
    end_temperature_ratio: float = 0.002
    segment: int = 50
    reaction: float = 0.2
    score_best: float = 33.0
    score_better: float = 9.0
    score_accepted: float = 13.0
    worst_randomness: float = 3.0
    shaw_randomness: float = 6.0
    noise_share: float = 0.025
    reduce_share: float = 0.5  # of the budget spent removing vehicles (hierarchical only)
    shaw_weights: tuple[float, float, float] = (9.0, 3.0, 2.0)
    blink: float = 0.01
    small_remove: int = 10  # at least this many removals allowed on small instances
    string_routes: int = 3
    local_search: bool = True
    ls_window: float = 0.02  # relocate search on candidates within this share of the best


@dataclass
class _State:
    routes: np.ndarray
    lens: np.ndarray
    bank: list[int] = field(default_factory=list)
    dist: float = 0.0

    def copy(self) -> _State:
        return _State(self.routes.copy(), self.lens.copy(), list(self.bank), self.dist)

    @property
    def used(self) -> int:
        return int(np.count_nonzero(self.lens > 2))


class _Kernels:
    """The instance as the argument tuples the numba kernels expect."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        n = inst.n_nodes
        self.tt = np.ascontiguousarray(inst.matrix.time, dtype=np.float64)
        self.cost = np.ascontiguousarray(inst.matrix.cost, dtype=np.float64)
        self.serv = inst.service.astype(np.float64)
        self.early = inst.early.astype(np.float64)
        self.late = inst.late.astype(np.float64)
        self.demand = np.ascontiguousarray(inst.demand, dtype=np.int64)
        self.kind = inst.node_kind
        self.pair = np.full(n, -1, dtype=np.int64)
        self.pair[inst.pickup] = inst.dropoff
        self.pair[inst.dropoff] = inst.pickup
        self.maxride = np.full(n, np.inf)
        self.maxride[inst.pickup] = inst.max_ride
        self.maxride[inst.dropoff] = inst.max_ride
        self.cap = np.ascontiguousarray(inst.capacity, dtype=np.int64)
        self.shift_s = inst.shift_start.astype(np.float64)
        self.shift_e = inst.shift_end.astype(np.float64)
        self.maxdur = inst.max_duration.astype(np.float64)
        self.pickup = inst.pickup.astype(np.int64)
        self.dropoff = inst.dropoff.astype(np.int64)
        self.node_request = inst.node_request
        keys = {}
        self.veh_class = np.array(
            [
                keys.setdefault(
                    (
                        int(inst.start_node[k]),
                        int(inst.end_node[k]),
                        tuple(inst.capacity[k]),
                        float(inst.shift_start[k]),
                        float(inst.shift_end[k]),
                        float(inst.max_duration[k]),
                    ),
                    len(keys),
                )
                for k in range(inst.n_vehicles)
            ],
            dtype=np.int64,
        )

    def empty_state(self) -> _State:
        K, R = self.inst.n_vehicles, self.inst.n_requests
        routes = np.zeros((K, 2 * R + 4), dtype=np.int64)
        routes[:, 0] = self.inst.start_node
        routes[:, 1] = self.inst.end_node
        return _State(routes, np.full(K, 2, dtype=np.int64), list(range(R)), 0.0)

    def repair(
        self,
        st: _State,
        regret_k: int,
        max_routes: int,
        fixed: float,
        noise: float,
        seed: int,
        blink: float = 0.0,
    ) -> None:
        """Insert the bank; ``regret_k`` 0 inserts in the current bank order."""
        if not st.bank:
            return
        bank = np.asarray(st.bank, dtype=np.int64)
        done = kr.repair(
            st.routes,
            st.lens,
            bank,
            regret_k,
            max_routes,
            fixed,
            noise,
            blink,
            seed,
            self.veh_class,
            self.tt,
            self.cost,
            self.serv,
            self.early,
            self.late,
            self.demand,
            self.kind,
            self.pair,
            self.maxride,
            self.cap,
            self.shift_s,
            self.shift_e,
            self.maxdur,
            self.pickup,
            self.dropoff,
        )
        st.bank = [int(r) for r in bank[~done]]

    def remove(self, st: _State, requests: list[int] | np.ndarray) -> None:
        flag = np.zeros(self.inst.n_nodes, dtype=np.bool_)
        req = np.asarray(requests, dtype=np.int64)
        flag[self.pickup[req]] = True
        flag[self.dropoff[req]] = True
        kr.remove_nodes(st.routes, st.lens, flag)
        st.bank.extend(int(r) for r in req)

    def relocate(self, st: _State, fixed: float, rng: np.random.Generator) -> None:
        routed = _routed(self, st)
        if routed.size == 0:
            return
        order = rng.permutation(routed).astype(np.int64)
        kr.relocate_search(
            st.routes,
            st.lens,
            order,
            fixed,
            self.veh_class,
            self.tt,
            self.cost,
            self.serv,
            self.early,
            self.late,
            self.demand,
            self.kind,
            self.pair,
            self.maxride,
            self.cap,
            self.shift_s,
            self.shift_e,
            self.maxdur,
            self.pickup,
            self.dropoff,
        )

    def distance(self, st: _State) -> float:
        return float(kr.route_costs(st.routes, st.lens, self.cost).sum())

    def gains(self, st: _State) -> np.ndarray:
        return kr.removal_gains(
            st.routes,
            st.lens,
            self.cost,
            self.kind,
            self.pair,
            self.node_request,
            self.inst.n_requests,
        )

    def times(self, st: _State) -> np.ndarray:
        return kr.service_times(
            st.routes,
            st.lens,
            self.tt,
            self.serv,
            self.early,
            self.late,
            self.kind,
            self.pair,
            self.maxride,
            self.shift_s,
            self.shift_e,
            self.maxdur,
        )


def solve_alns(
    instance: Instance,
    *,
    time_limit: float = 10.0,
    seed: int = 0,
    max_iterations: int | None = None,
    params: ALNSParams | None = None,
) -> Solution:
    """Solve ``instance`` with ALNS.

    Parameters
    ----------
    instance : Instance
        The problem.
    time_limit : float
        Wall-clock seconds (including construction; excluding numba compilation,
        which is cached on disk after the first run).
    seed : int
        Random seed; with ``max_iterations`` set the result is reproducible.
    max_iterations : int, optional
        Stop after this many ALNS iterations; annealing and phase changes then
        follow the iteration count instead of the clock (deterministic).
    params : ALNSParams, optional
        Tuning knobs.

    Returns
    -------
    Solution
        Best solution found; ``unassigned`` lists requests that could not be placed.
    """
    params = params or ALNSParams()
    rng = np.random.default_rng(seed)
    ker = _Kernels(instance)
    _warm_up(ker)
    t0 = time.monotonic()
    R, K = instance.n_requests, instance.n_vehicles
    hierarchical = instance.objective == "vehicles-cost"
    maxc = float(ker.cost.max()) if ker.cost.size else 1.0
    fixed = 10.0 * maxc if hierarchical else 0.0
    penalty = 10.0 * maxc * 2 + 1000.0
    total_load = instance.demand[instance.pickup].sum(axis=0)
    lb_routes = 1
    for dim in range(total_load.shape[0]):
        cap = int(instance.capacity[:, dim].max())
        if cap > 0:
            lb_routes = max(lb_routes, math.ceil(total_load[dim] / cap))

    def objective(st: _State) -> float:
        return st.dist + penalty * len(st.bank)

    def key(st: _State) -> tuple[int, int, float]:
        return (len(st.bank), st.used if hierarchical else 0, st.dist)

    def progress() -> float:
        if max_iterations is not None:
            return it / max(1, max_iterations)
        return (time.monotonic() - t0) / max(time_limit, 1e-9)

    # Construction: regret-2 insertion with every vehicle available.
    cur = ker.empty_state()
    ker.repair(cur, 2, K, fixed, 0.0, int(rng.integers(2**31)))
    if cur.bank:  # second chance: greedy fills differently
        alt = ker.empty_state()
        ker.repair(alt, 1, K, fixed, 0.0, int(rng.integers(2**31)))
        if len(alt.bank) < len(cur.bank):
            cur = alt
    cur.dist = ker.distance(cur)
    best = cur.copy()
    log.debug(
        "%s: construction %.2f, %d routes, %d unplaced",
        instance.name,
        cur.dist,
        cur.used,
        len(cur.bank),
    )

    # Shaw relatedness parts that do not change: normalised pickup/drop-off distances.
    pk, dp = ker.pickup, ker.dropoff
    shaw_dist = (ker.cost[np.ix_(pk, pk)] + ker.cost[np.ix_(dp, dp)]) / max(2 * maxc, 1e-9)
    horizon = max(float(np.max(instance.late[np.isfinite(instance.late)], initial=1.0)), 1e-9)
    loads = instance.demand[pk].sum(axis=1).astype(float)
    load_span = max(float(loads.max() - loads.min()), 1.0)

    weights_rm = np.ones(len(REMOVALS))
    weights_rp = np.ones(len(REPAIRS))
    scores_rm = np.zeros(len(REMOVALS))
    scores_rp = np.zeros(len(REPAIRS))
    uses_rm = np.zeros(len(REMOVALS))
    uses_rp = np.zeros(len(REPAIRS))
    T0 = params.start_worse * max(objective(cur) if not cur.bank else cur.dist, 1.0) / math.log(2)
    T_end = T0 * params.end_temperature_ratio

    max_routes = K
    phase = "cost"
    reduce_start_it = 0

    def start_reduction() -> bool:
        nonlocal cur, max_routes, phase
        if best.used - 1 < lb_routes or best.bank:
            return False
        max_routes = best.used - 1
        cur = best.copy()
        sizes = np.where(cur.lens > 2, cur.lens, np.iinfo(np.int64).max)
        k = int(np.argmin(sizes))
        ker.remove(cur, _route_requests(ker, cur, k))
        cur.dist = ker.distance(cur)
        phase = "reduce"
        return True

    if hierarchical and not best.bank:
        start_reduction()

    it = 0
    accepted = 0
    failed = 0  # candidates that left requests unplaced
    same = 0  # candidates as costly as the current solution
    while True:
        frac = progress()
        if frac >= 1.0 or (max_iterations is not None and it >= max_iterations):
            break
        if phase == "reduce" and frac >= params.reduce_share:
            phase = "cost"
            max_routes = best.used
            cur = best.copy()
        it += 1
        temp = T0 * (T_end / T0) ** min(frac, 1.0)

        routed = R - len(cur.bank)
        q_max = max(
            params.min_remove,
            min(params.max_remove, int(params.max_remove_share * R)),
            min(R, params.small_remove),
        )
        q = (
            int(rng.integers(min(params.min_remove, routed), min(q_max, routed) + 1))
            if routed
            else 0
        )
        a = int(rng.choice(len(REMOVALS), p=weights_rm / weights_rm.sum()))
        b = int(rng.choice(len(REPAIRS), p=weights_rp / weights_rp.sum()))
        cand = cur.copy()
        if q > 0:
            victims = _destroy(
                REMOVALS[a], ker, cand, q, rng, params, shaw_dist, horizon, loads, load_span
            )
            ker.remove(cand, victims)
        name = REPAIRS[b]
        blink = 0.0
        if name.startswith("blink"):
            regret_k = 0
            blink = params.blink
            order = np.asarray(cand.bank, dtype=np.int64)
            if name == "blink-random":
                rng.shuffle(order)
            elif name == "blink-time":
                order = order[
                    np.argsort(
                        instance.early[ker.pickup[order]] + rng.random(order.size), kind="stable"
                    )
                ]
            else:  # farthest from the depot first
                far = ker.cost[instance.start_node[0], ker.pickup[order]]
                order = order[np.argsort(-(far + rng.random(order.size)), kind="stable")]
            cand.bank = order.tolist()
        else:
            regret_k = {"greedy": 1, "regret2": 2, "regret3": 3}.get(
                name.split("-")[0], max(2, max_routes)
            )
            regret_k = min(regret_k, K)
        noise = params.noise_share * maxc if name.endswith("noise") else 0.0
        ker.repair(cand, regret_k, max_routes, fixed, noise, int(rng.integers(2**31)), blink)
        cand.dist = ker.distance(cand)
        if params.local_search and not cand.bank and cand.dist < best.dist * (1 + params.ls_window):
            ker.relocate(cand, fixed, rng)
            cand.dist = ker.distance(cand)

        if cand.bank:
            failed += 1
        elif abs(cand.dist - cur.dist) < 1e-9:
            same += 1
        score = 0.0
        f_new, f_cur = objective(cand), objective(cur)
        if key(cand) < key(best):
            best = cand.copy()
            score = params.score_best
        if f_new < f_cur - 1e-9:
            score = max(score, params.score_better)
            cur = cand
            accepted += 1
        elif f_new - f_cur < 1e-9 or rng.random() < math.exp(-(f_new - f_cur) / max(temp, 1e-12)):
            score = max(score, params.score_accepted) if f_new != f_cur else score
            cur = cand
            accepted += 1
        scores_rm[a] += score
        scores_rp[b] += score
        uses_rm[a] += 1
        uses_rp[b] += 1
        if it % params.segment == 0:
            for w, s, u in ((weights_rm, scores_rm, uses_rm), (weights_rp, scores_rp, uses_rp)):
                mask = u > 0
                w[mask] = (1 - params.reaction) * w[mask] + params.reaction * s[mask] / u[mask]
                np.maximum(w, 0.05, out=w)
                s[:] = 0
                u[:] = 0

        if phase == "reduce" and not cur.bank and cur.used <= max_routes:
            if key(cur) < key(best):
                best = cur.copy()
            log.debug("%s: %d vehicles after %d iterations", instance.name, best.used, it)
            reduce_start_it = it
            if not start_reduction():
                phase = "cost"
                max_routes = best.used
                cur = best.copy()

    runtime = time.monotonic() - t0
    routes = [[int(v) for v in best.routes[k, 1 : best.lens[k] - 1]] for k in range(K)]
    log.info(
        "alns %s: cost %.2f, %d vehicles, %d unplaced, %d iterations (%d accepted) in %.1f s",
        instance.name,
        best.dist,
        best.used,
        len(best.bank),
        it,
        accepted,
        runtime,
    )
    del reduce_start_it
    return Solution(
        routes=routes,
        cost=best.dist,
        unassigned=sorted(best.bank),
        solver="ours",
        runtime=runtime,
        iterations=it,
        info={
            "seed": seed,
            "unplaced_candidates": failed,
            "same_cost_candidates": same,
            "removal_weights": dict(zip(REMOVALS, weights_rm.round(3).tolist(), strict=True)),
            "repair_weights": dict(zip(REPAIRS, weights_rp.round(3).tolist(), strict=True)),
        },
    )


_WARM = False


def _warm_up(ker: _Kernels) -> None:
    """Load (or compile) every kernel once per process, before the clock starts."""
    global _WARM
    if _WARM:
        return
    st = ker.empty_state()
    ker.repair(st, 2, 1, 0.0, 0.0, 0)
    st2 = ker.empty_state()
    st2.bank = st2.bank[:1]
    ker.repair(st2, 0, 1, 0.0, 0.0, 0, 0.01)
    ker.relocate(st, 0.0, np.random.default_rng(0))
    ker.gains(st)
    ker.times(st)
    ker.distance(st)
    ker.remove(st, [0])
    _WARM = True


def _route_requests(ker: _Kernels, st: _State, k: int) -> list[int]:
    nodes = st.routes[k, 1 : st.lens[k] - 1]
    return [int(ker.node_request[v]) for v in nodes if ker.kind[v] == 1]


def _routed(ker: _Kernels, st: _State) -> np.ndarray:
    mask = np.ones(ker.inst.n_requests, dtype=bool)
    if st.bank:
        mask[np.asarray(st.bank)] = False
    return np.flatnonzero(mask)


def _destroy(
    op: str,
    ker: _Kernels,
    st: _State,
    q: int,
    rng: np.random.Generator,
    params: ALNSParams,
    shaw_dist: np.ndarray,
    horizon: float,
    loads: np.ndarray,
    load_span: float,
) -> list[int]:
    """Choose ``q`` routed requests to remove (route removal may take more or fewer)."""
    routed = _routed(ker, st)
    if op == "random":
        return [int(r) for r in rng.choice(routed, size=q, replace=False)]
    if op == "worst":
        gains = ker.gains(st)
        order = routed[np.argsort(-gains[routed], kind="stable")].tolist()
        out = []
        while len(out) < q and order:
            idx = int(len(order) * rng.random() ** params.worst_randomness)
            out.append(order.pop(idx))
        return out
    if op == "shaw":
        times = ker.times(st)
        tp = times[ker.pickup]
        td = times[ker.dropoff]
        phi, chi, psi = params.shaw_weights
        first = int(rng.choice(routed))
        chosen = [first]
        left = set(routed.tolist())
        left.discard(first)
        while len(chosen) < q and left:
            r = chosen[int(rng.integers(len(chosen)))]
            cand = np.fromiter(left, dtype=np.int64)
            rel = (
                phi * shaw_dist[r, cand]
                + chi * (np.abs(tp[r] - tp[cand]) + np.abs(td[r] - td[cand])) / horizon
                + psi * np.abs(loads[r] - loads[cand]) / load_span
            )
            order = cand[np.argsort(rel, kind="stable")]
            pick = int(order[int(len(order) * rng.random() ** params.shaw_randomness)])
            chosen.append(pick)
            left.discard(pick)
        return chosen
    if op == "route":
        used = np.flatnonzero(st.lens > 2)
        rng.shuffle(used)
        out: list[int] = []
        for k in used:
            out.extend(_route_requests(ker, st, int(k)))
            if len(out) >= max(1, q // 2):
                break
        return out
    if op == "string":
        return _string_removal(ker, st, q, rng, params, shaw_dist)
    raise ValueError(f"unknown removal operator {op!r}")


def _string_removal(
    ker: _Kernels,
    st: _State,
    q: int,
    rng: np.random.Generator,
    params: ALNSParams,
    shaw_dist: np.ndarray,
) -> list[int]:
    """SISR-like: cut strings of consecutive stops out of routes near a seed request."""
    routed = _routed(ker, st)
    seed_r = int(rng.choice(routed))
    route_of = np.full(ker.inst.n_nodes, -1, dtype=np.int64)
    pos_of = np.zeros(ker.inst.n_nodes, dtype=np.int64)
    for k in np.flatnonzero(st.lens > 2):
        nodes = st.routes[k, : st.lens[k]]
        route_of[nodes[1:-1]] = k
        pos_of[nodes] = np.arange(st.lens[k])
    neighbours = routed[np.argsort(shaw_dist[seed_r, routed], kind="stable")]
    per_route = max(1, q // max(1, params.string_routes))
    out: set[int] = set()
    done_routes: set[int] = set()
    for r in neighbours:
        k = int(route_of[ker.pickup[r]])
        if k < 0 or k in done_routes:
            continue
        done_routes.add(k)
        n_stops = int(st.lens[k]) - 2
        length = int(rng.integers(1, min(2 * per_route, n_stops) + 1))
        centre = int(pos_of[ker.pickup[r]])
        start = max(1, min(centre - int(rng.integers(0, length)), n_stops - length + 1))
        for v in st.routes[k, start : start + length]:
            out.add(int(ker.node_request[v]))
        if len(out) >= q or len(done_routes) >= params.string_routes:
            break
    return list(out)
