"""Adaptive large neighbourhood search for dial-a-ride and PDPTW (Ropke & Pisinger 2006).

Construction by regret insertion, then iterations of *destroy* (random, worst,
Shaw-related, route, string removal; :mod:`fleet.solver.destroy`) and *repair*
(greedy, regret-2/3/m, with and without noise, sequential with blinks),
chosen by adaptive roulette weights and accepted by simulated annealing.
Candidates close to the best are polished by relocate search (requests of the
changed routes) and 2-opt* tail exchanges. Requests that cannot be placed wait
in a request bank at a large penalty. For the hierarchical objective (vehicles
first, Li & Lim) a first phase repeatedly empties a route and searches for a
solution with one vehicle fewer.

The iterations run inside one numba kernel (:func:`fleet.solver.loop.iterate`)
in chunks of ``segment`` iterations; this driver owns the clock, the
temperature, the weight updates between chunks and the phases. Scheduling and
insertion evaluation are the kernels of :mod:`fleet.solver.kernels`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from fleet.model import Instance, Solution
from fleet.solver import kernels as kr
from fleet.solver import loop as lp

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
    # Li & Lim (vehicles first): few long routes after vehicle reduction need a hotter
    # start to leave the first feasible fleet-minimal solution (lr203, lrc203: ~25% -> 0%)
    start_worse_hierarchical: float = 0.06
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
    ls_window: float = 0.02  # local search on candidates within this share of the best


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
        keys: dict[tuple, int] = {}
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
    maxc = float(ker.cost.max()) if ker.cost.size else 1.0
    # Shaw relatedness parts that do not change: normalised pickup/drop-off distances.
    pk, dp = ker.pickup, ker.dropoff
    shaw_dist = np.ascontiguousarray(
        (ker.cost[np.ix_(pk, pk)] + ker.cost[np.ix_(dp, dp)]) / max(2 * maxc, 1e-9)
    )
    horizon = max(float(np.max(instance.late[np.isfinite(instance.late)], initial=1.0)), 1e-9)
    loads = instance.demand[pk].sum(axis=1).astype(np.float64)
    load_span = max(float(loads.max() - loads.min()), 1.0)
    far = np.ascontiguousarray(ker.cost[instance.start_node[0], pk], dtype=np.float64)

    kernel_args = (
        params.worst_randomness,
        params.shaw_randomness,
        *params.shaw_weights,
        params.string_routes,
        shaw_dist,
        horizon,
        loads,
        load_span,
        far,
        ker.veh_class,
        ker.node_request,
        ker.tt,
        ker.cost,
        ker.serv,
        ker.early,
        ker.late,
        ker.demand,
        ker.kind,
        ker.pair,
        ker.maxride,
        ker.cap,
        ker.shift_s,
        ker.shift_e,
        ker.maxdur,
        ker.pickup,
        ker.dropoff,
    )
    _warm_up(ker, kernel_args)
    t0 = time.monotonic()
    R, K = instance.n_requests, instance.n_vehicles
    hierarchical = instance.objective == "vehicles-cost"
    fixed = 10.0 * maxc if hierarchical else 0.0
    penalty = 10.0 * maxc * 2 + 1000.0
    total_load = instance.demand[instance.pickup].sum(axis=0)
    lb_routes = 1
    for dim in range(total_load.shape[0]):
        cap = int(instance.capacity[:, dim].max())
        if cap > 0:
            lb_routes = max(lb_routes, math.ceil(total_load[dim] / cap))

    def progress() -> float:
        if max_iterations is not None:
            return it / max(1, max_iterations)
        return (time.monotonic() - t0) / max(time_limit, 1e-9)

    # Construction: regret-2 insertion with every vehicle available.
    start = ker.empty_state()
    ker.repair(start, 2, K, fixed, 0.0, int(rng.integers(2**31)))
    if start.bank:  # second chance: greedy fills differently
        alt = ker.empty_state()
        ker.repair(alt, 1, K, fixed, 0.0, int(rng.integers(2**31)))
        if len(alt.bank) < len(start.bank):
            start = alt
    start.dist = ker.distance(start)
    cur = _Packed.of(start, R)
    best = cur.copy()
    log.debug(
        "%s: construction %.2f, %d routes, %d unplaced",
        instance.name,
        start.dist,
        start.used,
        len(start.bank),
    )

    weights_rm = np.ones(len(REMOVALS))
    weights_rp = np.ones(len(REPAIRS))
    scores_rm = np.zeros(len(REMOVALS))
    scores_rp = np.zeros(len(REPAIRS))
    uses_rm = np.zeros(len(REMOVALS))
    uses_rp = np.zeros(len(REPAIRS))
    counters = np.zeros(4, dtype=np.int64)  # accepted, unplaced, same cost, new bests
    start_worse = params.start_worse_hierarchical if hierarchical else params.start_worse
    T0 = start_worse * max(start.dist, 1.0) / math.log(2)
    T_end = T0 * params.end_temperature_ratio
    q_max = max(
        params.min_remove,
        min(params.max_remove, int(params.max_remove_share * R)),
        min(R, params.small_remove),
    )
    lp.seed_stream(int(rng.integers(2**31)))

    max_routes = K
    phase = "cost"
    # The cost phase anneals over its own share of the budget, from a temperature
    # set by the solution it starts from (after a vehicle-reduction phase the
    # remaining time would otherwise run cold and stall in a poor local optimum).
    cost_from, T0_cost = 0.0, T0

    def begin_cost_phase(frac: float) -> None:
        nonlocal cur, max_routes, phase, cost_from, T0_cost
        phase = "cost"
        max_routes = best.used
        cur = best.copy()
        cost_from = min(frac, 1.0)
        T0_cost = start_worse * max(float(best.dist[0]), 1.0) / math.log(2)

    def temperature(frac: float) -> float:
        if phase == "reduce":
            return T0 * (T_end / T0) ** min(frac, 1.0)
        share = min(max((frac - cost_from) / max(1.0 - cost_from, 1e-9), 0.0), 1.0)
        return T0_cost * params.end_temperature_ratio**share

    def start_reduction() -> bool:
        """Empty the smallest route of the best solution and look for one vehicle fewer."""
        nonlocal cur, max_routes, phase
        if best.used - 1 < lb_routes or best.n_bank:
            return False
        max_routes = best.used - 1
        st = best.state()
        sizes = np.where(st.lens > 2, st.lens, np.iinfo(np.int64).max)
        k = int(np.argmin(sizes))
        ker.remove(st, _route_requests(ker, st, k))
        st.dist = ker.distance(st)
        cur = _Packed.of(st, R)
        phase = "reduce"
        return True

    if hierarchical and not best.n_bank:
        start_reduction()

    it = 0
    while True:
        frac = progress()
        if frac >= 1.0 or (max_iterations is not None and it >= max_iterations):
            break
        if phase == "reduce" and frac >= params.reduce_share:
            begin_cost_phase(frac)
        n = params.segment if max_iterations is None else min(params.segment, max_iterations - it)
        temp = temperature(frac)
        temp_end = temp
        if max_iterations is not None:
            temp_end = temperature((it + n) / max(1, max_iterations))
        done = lp.iterate(  # type: ignore[call-arg]  # a numba dispatcher
            n,
            temp,
            temp_end,
            *cur.arrays(),
            *best.arrays(),
            weights_rm,
            weights_rp,
            scores_rm,
            scores_rp,
            uses_rm,
            uses_rp,
            counters,
            max_routes,
            fixed,
            penalty,
            hierarchical,
            phase == "reduce",
            params.min_remove,
            q_max,
            params.local_search,
            params.ls_window,
            params.noise_share * maxc,
            params.blink,
            params.score_best,
            params.score_better,
            params.score_accepted,
            *kernel_args,
        )
        it += int(done)
        for w, s_, u in ((weights_rm, scores_rm, uses_rm), (weights_rp, scores_rp, uses_rp)):
            mask = u > 0
            w[mask] = (1 - params.reaction) * w[mask] + params.reaction * s_[mask] / u[mask]
            np.maximum(w, 0.05, out=w)
            s_[:] = 0
            u[:] = 0
        if phase == "reduce" and not cur.n_bank and cur.used <= max_routes:
            if cur.key(hierarchical) < best.key(hierarchical):
                best = cur.copy()
            log.debug("%s: %d vehicles after %d iterations", instance.name, best.used, it)
            if not start_reduction():
                begin_cost_phase(progress())

    # Final polish: relocate search on the best solution (never worse).
    final = best.state()
    if not final.bank:
        ker.relocate(final, fixed, rng)
        final.dist = ker.distance(final)
    runtime = time.monotonic() - t0
    routes = [[int(v) for v in final.routes[k, 1 : final.lens[k] - 1]] for k in range(K)]
    log.info(
        "alns %s: cost %.2f, %d vehicles, %d unplaced, %d iterations (%d accepted) in %.1f s",
        instance.name,
        final.dist,
        final.used,
        len(final.bank),
        it,
        int(counters[0]),
        runtime,
    )
    return Solution(
        routes=routes,
        cost=final.dist,
        unassigned=sorted(final.bank),
        solver="ours",
        runtime=runtime,
        iterations=it,
        info={
            "seed": seed,
            "unplaced_candidates": int(counters[1]),
            "same_cost_candidates": int(counters[2]),
            "new_bests": int(counters[3]),
            "removal_weights": dict(zip(REMOVALS, weights_rm.round(3).tolist(), strict=True)),
            "repair_weights": dict(zip(REPAIRS, weights_rp.round(3).tolist(), strict=True)),
        },
    )


@dataclass
class _Packed:
    """A solution as the arrays :func:`fleet.solver.loop.iterate` works on in place."""

    routes: np.ndarray
    lens: np.ndarray
    bank: np.ndarray  # (R,) int64; the first info[0] entries are the unplaced requests
    info: np.ndarray  # (1,) int64
    dist: np.ndarray  # (1,) float64

    @classmethod
    def of(cls, st: _State, n_requests: int) -> _Packed:
        bank = np.zeros(max(n_requests, 1), dtype=np.int64)
        bank[: len(st.bank)] = st.bank
        return cls(
            st.routes.copy(),
            st.lens.copy(),
            bank,
            np.array([len(st.bank)], dtype=np.int64),
            np.array([st.dist]),
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.routes, self.lens, self.bank, self.info, self.dist

    def copy(self) -> _Packed:
        return _Packed(*(a.copy() for a in self.arrays()))

    def state(self) -> _State:
        return _State(
            self.routes.copy(),
            self.lens.copy(),
            [int(r) for r in self.bank[: self.n_bank]],
            float(self.dist[0]),
        )

    @property
    def n_bank(self) -> int:
        return int(self.info[0])

    @property
    def used(self) -> int:
        return int(np.count_nonzero(self.lens > 2))

    def key(self, hierarchical: bool) -> tuple[int, int, float]:
        return (self.n_bank, self.used if hierarchical else 0, float(self.dist[0]))


_WARM = False


def _warm_up(ker: _Kernels, kernel_args: tuple) -> None:
    """Load (or compile) every kernel once per process, before the clock starts."""
    global _WARM
    if not _WARM:
        st = ker.empty_state()
        ker.repair(st, 2, 1, 0.0, 0.0, 0)
        st2 = ker.empty_state()
        st2.bank = st2.bank[:1]
        ker.repair(st2, 0, 1, 0.0, 0.0, 0, 0.01)
        ker.relocate(st, 0.0, np.random.default_rng(0))
        ker.distance(st)
        ker.remove(st, [0])
        _WARM = True
    # the loop kernel with this run's argument types (no iterations)
    a = _Packed.of(ker.empty_state(), ker.inst.n_requests)
    b = a.copy()
    nr, np_ = len(REMOVALS), len(REPAIRS)
    lp.iterate(  # type: ignore[call-arg]  # a numba dispatcher
        0, 1.0, 1.0, *a.arrays(), *b.arrays(),
        np.ones(nr), np.ones(np_), np.zeros(nr), np.zeros(np_), np.zeros(nr), np.zeros(np_),
        np.zeros(4, dtype=np.int64), 1, 0.0, 1.0, False, False, 2, 2, True, 0.0, 0.0, 0.0,
        1.0, 1.0, 1.0, *kernel_args,
    )  # fmt: skip


def _route_requests(ker: _Kernels, st: _State, k: int) -> list[int]:
    nodes = st.routes[k, 1 : st.lens[k] - 1]
    return [int(ker.node_request[v]) for v in nodes if ker.kind[v] == 1]


def _routed(ker: _Kernels, st: _State) -> np.ndarray:
    mask = np.ones(ker.inst.n_requests, dtype=bool)
    if st.bank:
        mask[np.asarray(st.bank)] = False
    return np.flatnonzero(mask)
