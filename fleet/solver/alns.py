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
insertion evaluation are the kernels of :mod:`fleet.solver.schedule` and
:mod:`fleet.solver.insertion`; the operators have one module each
(:mod:`~fleet.solver.destroy`, :mod:`~fleet.solver.repair`,
:mod:`~fleet.solver.relocate`, :mod:`~fleet.solver.exchange`), all taking the
instance as one :class:`fleet.solver.data.ProblemData`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from fleet.model import Instance, Solution
from fleet.solver import loop as lp
from fleet.solver.data import IntArray, ProblemData, RouteState, instance_data
from fleet.solver.destroy import DestroyData
from fleet.solver.relocate import relocate_search
from fleet.solver.repair import repair
from fleet.solver.routes import remove_nodes, route_costs

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
    """The instance as the kernels' :class:`~fleet.solver.data.ProblemData`, and calls on it."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.data: ProblemData = instance_data(inst)

    def empty_state(self) -> _State:
        """Every vehicle at its depots, every request in the bank."""
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
        done = repair(
            RouteState(st.routes, st.lens),
            bank,
            regret_k,
            max_routes,
            fixed,
            noise,
            blink,
            seed,
            self.data,
        )
        st.bank = [int(r) for r in bank[~done]]

    def remove(self, st: _State, requests: list[int] | IntArray) -> None:
        """Take ``requests`` out of their routes into the bank."""
        flag = np.zeros(self.inst.n_nodes, dtype=np.bool_)
        req = np.asarray(requests, dtype=np.int64)
        flag[self.data.pickup[req]] = True
        flag[self.data.dropoff[req]] = True
        remove_nodes(st.routes, st.lens, flag)
        st.bank.extend(int(r) for r in req)

    def relocate(self, st: _State, fixed: float, rng: np.random.Generator) -> None:
        """Relocate search over the routed requests in random order."""
        routed = _routed(self, st)
        if routed.size == 0:
            return
        order = rng.permutation(routed).astype(np.int64)
        relocate_search(RouteState(st.routes, st.lens), order, fixed, self.data)

    def distance(self, st: _State) -> float:
        """Total travel cost of the routes."""
        return float(route_costs(st.routes, st.lens, self.data.cost).sum())


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
    data = ker.data
    maxc = float(data.cost.max()) if data.cost.size else 1.0
    # Shaw relatedness parts that do not change: normalised pickup/drop-off distances.
    pk, dp = data.pickup, data.dropoff
    shaw_dist = np.ascontiguousarray(
        (data.cost[np.ix_(pk, pk)] + data.cost[np.ix_(dp, dp)]) / max(2 * maxc, 1e-9)
    )
    horizon = max(float(np.max(instance.late[np.isfinite(instance.late)], initial=1.0)), 1e-9)
    loads = instance.demand[pk].sum(axis=1).astype(np.float64)
    load_span = max(float(loads.max() - loads.min()), 1.0)
    far = np.ascontiguousarray(data.cost[instance.start_node[0], pk], dtype=np.float64)
    w_dist, w_time, w_load = params.shaw_weights
    dd = DestroyData(
        worst_randomness=float(params.worst_randomness),
        shaw_randomness=float(params.shaw_randomness),
        w_dist=float(w_dist),
        w_time=float(w_time),
        w_load=float(w_load),
        n_strings=int(params.string_routes),
        shaw_dist=shaw_dist,
        horizon=horizon,
        loads=loads,
        load_span=load_span,
    )
    _warm_up(ker, dd, far)
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
    ops = lp.OperatorStats(weights_rm, weights_rp, scores_rm, scores_rp, uses_rm, uses_rp, counters)
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
            return float(T0 * (T_end / T0) ** min(frac, 1.0))
        share = min(max((frac - cost_from) / max(1.0 - cost_from, 1e-9), 0.0), 1.0)
        return float(T0_cost * params.end_temperature_ratio**share)

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
        cfg = _loop_config(
            params,
            max_routes=max_routes,
            fixed=fixed,
            penalty=penalty,
            hierarchical=hierarchical,
            stop_when_reduced=phase == "reduce",
            q_max=q_max,
            noise_level=params.noise_share * maxc,
            far=far,
        )
        done = lp.iterate(n, temp, temp_end, cur.packed(), best.packed(), ops, cfg, dd, data)
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

    def packed(self) -> lp.Packed:
        """The arrays as the loop kernel takes them (not copied)."""
        return lp.Packed(self.routes, self.lens, self.bank, self.info, self.dist)

    def copy(self) -> _Packed:
        """A deep copy."""
        return _Packed(*(a.copy() for a in self.packed()))

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


def _loop_config(
    params: ALNSParams,
    *,
    max_routes: int,
    fixed: float,
    penalty: float,
    hierarchical: bool,
    stop_when_reduced: bool,
    q_max: int,
    noise_level: float,
    far: np.ndarray,
) -> lp.LoopConfig:
    """One chunk's :class:`~fleet.solver.loop.LoopConfig`, with fixed scalar types.

    numba compiles one loop per tuple of argument types; casting every field
    keeps that one (an ``np.int64`` here and an ``int`` there would compile twice).
    """
    return lp.LoopConfig(
        max_routes=int(max_routes),
        fixed=float(fixed),
        penalty=float(penalty),
        hierarchical=bool(hierarchical),
        stop_when_reduced=bool(stop_when_reduced),
        min_remove=int(params.min_remove),
        q_max=int(q_max),
        local_search=bool(params.local_search),
        ls_window=float(params.ls_window),
        noise_level=float(noise_level),
        blink=float(params.blink),
        score_best=float(params.score_best),
        score_better=float(params.score_better),
        score_accepted=float(params.score_accepted),
        far=far,
    )


_WARM = False


def _warm_up(ker: _Kernels, dd: DestroyData, far: np.ndarray) -> None:
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
    ops = lp.OperatorStats(
        np.ones(nr), np.ones(np_), np.zeros(nr), np.zeros(np_), np.zeros(nr), np.zeros(np_),
        np.zeros(4, dtype=np.int64),
    )  # fmt: skip
    cfg = _loop_config(
        ALNSParams(),
        max_routes=1,
        fixed=0.0,
        penalty=1.0,
        hierarchical=False,
        stop_when_reduced=False,
        q_max=2,
        noise_level=0.0,
        far=far,
    )
    lp.iterate(0, 1.0, 1.0, a.packed(), b.packed(), ops, cfg, dd, ker.data)


def _route_requests(ker: _Kernels, st: _State, k: int) -> list[int]:
    nodes = st.routes[k, 1 : st.lens[k] - 1]
    return [int(ker.data.node_request[v]) for v in nodes if ker.data.kind[v] == 1]


def _routed(ker: _Kernels, st: _State) -> np.ndarray:
    mask = np.ones(ker.inst.n_requests, dtype=bool)
    if st.bank:
        mask[np.asarray(st.bank)] = False
    return np.flatnonzero(mask)
