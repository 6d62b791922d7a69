"""Our ALNS and the OR-Tools backend, verified by the independent checker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fleet.checker import check_solution
from fleet.instances import load_best_known, load_instance
from fleet.solver import solve
from fleet.solver.alns import _Kernels
from fleet.solver.data import RouteState
from fleet.solver.exchange import tail_exchange_search
from fleet.solver.relocate import relocate_search
from fleet.solver.schedule import route_schedule
from routing.errors import RequestError


@pytest.fixture(scope="module")
def fleet_dir(mirror_dir: Path) -> Path:
    return mirror_dir / "fleet"


@pytest.mark.parametrize(
    ("family", "name", "max_gap"),
    [
        ("cordeau", "a2-16", 3.0),
        ("cordeau", "a2-20", 3.0),
        ("lilim", "lc101", 3.0),
    ],
)
def test_ours_feasible_and_close_to_best_known(
    fleet_dir: Path, family: str, name: str, max_gap: float
) -> None:
    path = fleet_dir / family / f"{name}.txt"
    inst = load_instance(path)
    sol = solve(inst, solver="ours", time_limit=2.0, seed=1)
    assert sol.found
    rep = check_solution(inst, sol.routes)
    assert rep.feasible, rep.violations
    assert rep.cost == pytest.approx(sol.cost, rel=1e-9)
    bks = load_best_known(path)
    assert rep.cost <= bks.cost * (1 + max_gap / 100)
    if bks.vehicles is not None:
        assert rep.vehicles <= bks.vehicles + 1


def test_same_seed_same_result(fleet_dir: Path) -> None:
    inst = load_instance(fleet_dir / "cordeau" / "a3-18.txt")
    runs = [solve(inst, time_limit=60.0, seed=5, max_iterations=60) for _ in range(2)]
    assert runs[0].routes == runs[1].routes
    assert runs[0].cost == runs[1].cost
    assert runs[0].iterations == 60
    assert check_solution(inst, runs[0].routes).feasible


def test_eight_step_never_accepts_what_the_checker_rejects(fleet_dir: Path) -> None:
    """Oracle: the kernel's schedule test against the exact checker on perturbed routes."""
    inst = load_instance(fleet_dir / "cordeau" / "a4-24.txt")
    sol = solve(inst, time_limit=60.0, seed=0, max_iterations=30)
    ker = _Kernels(inst)
    rng = np.random.default_rng(3)
    nodepos = np.full(inst.n_nodes, -1, dtype=np.int64)
    work = np.empty((4, 2 * inst.n_requests + 4))
    feasible = missed = 0
    trials = 600
    for _ in range(trials):
        k = int(rng.integers(inst.n_vehicles))
        route = list(sol.routes[k])
        if len(route) < 4:
            continue
        if rng.random() < 0.5:  # swap two neighbours
            i = int(rng.integers(len(route) - 1))
            route[i], route[i + 1] = route[i + 1], route[i]
        else:  # move one request elsewhere in the route
            r = int(ker.data.node_request[route[int(rng.integers(len(route)))]])
            p, d = int(inst.pickup[r]), int(inst.dropoff[r])
            route = [v for v in route if v not in (p, d)]
            i = int(rng.integers(len(route) + 1))
            route.insert(i, p)
            route.insert(int(rng.integers(i + 1, len(route) + 1)), d)
        routes = [[] for _ in range(inst.n_vehicles)]
        routes[k] = route
        rep = check_solution(inst, routes)
        timing = {"time-window", "ride-time", "route-duration"}
        if rep.kinds() - timing - {"unserved"}:
            continue  # precedence or capacity: not the schedule's business
        exact = not (rep.kinds() & timing)
        seq = np.array([inst.start_node[k], *route, inst.end_node[k]], dtype=np.int64)
        fast = route_schedule(seq, seq.size, k, ker.data, nodepos, work)
        assert not (fast and not exact), route  # never accepts an infeasible route
        feasible += exact
        missed += exact and not fast
    assert feasible > 20
    assert missed <= 0.05 * feasible


def test_ortools_solution_passes_checker(fleet_dir: Path) -> None:
    inst = load_instance(fleet_dir / "lilim" / "lc101.txt")
    sol = solve(inst, solver="ortools", time_limit=2.0)
    assert sol.found, sol.info
    rep = check_solution(inst, sol.routes)
    assert rep.feasible, rep.violations
    assert rep.cost == pytest.approx(sol.cost, rel=1e-9)


def test_ortools_model_accepts_our_solution(fleet_dir: Path) -> None:
    """Our feasible routes are feasible in the OR-Tools model (so the model is not too strict)."""
    from fleet.ortools_backend import solve_ortools

    inst = load_instance(fleet_dir / "cordeau" / "a2-16.txt")
    ours = solve(inst, time_limit=60.0, seed=0, max_iterations=20)
    sol = solve_ortools(inst, time_limit=1.0, initial_routes=ours.routes)
    assert sol.info["initial_accepted"] is True
    assert sol.found
    assert check_solution(inst, sol.routes).feasible
    assert sol.cost <= ours.cost + 1e-6


def test_bad_solver_name_and_time_limit(fleet_dir: Path) -> None:
    inst = load_instance(fleet_dir / "cordeau" / "a2-16.txt")
    with pytest.raises(RequestError, match="unknown solver"):
        solve(inst, solver="vroom")
    with pytest.raises(RequestError, match="time limit"):
        solve(inst, time_limit=0)


def test_cli_solve_json(fleet_dir: Path) -> None:
    import json

    from typer.testing import CliRunner

    from api.cli import app

    result = CliRunner().invoke(
        app,
        [
            "-q",
            "solve",
            str(fleet_dir / "cordeau" / "a2-16.txt"),
            "--iterations",
            "20",
            "--time-limit",
            "30",
            "--seed",
            "2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["feasible"]
    assert data["verdict"] == "feasible"
    assert data["best_known"]["cost"] == 294.25
    assert data["gap_percent"] >= -0.01
    assert data["vehicles"] <= 2
    assert data["iterations"] == 20


def _packed_routes(inst, ker, routes_list):
    routes = np.zeros((inst.n_vehicles, 2 * inst.n_requests + 4), dtype=np.int64)
    lens = np.zeros(inst.n_vehicles, dtype=np.int64)
    for k, r in enumerate(routes_list):
        seq = [int(inst.start_node[k]), *r, int(inst.end_node[k])]
        routes[k, : len(seq)] = seq
        lens[k] = len(seq)
    return routes, lens


def _unpacked(routes, lens):
    return [[int(v) for v in routes[k, 1 : lens[k] - 1]] for k in range(len(lens))]


@pytest.mark.parametrize("name", ["a4-24", "a6-48"])
def test_local_search_moves_keep_routes_feasible_and_cost_exact(fleet_dir: Path, name: str) -> None:
    """Oracle: after relocate and 2-opt* the checker agrees on feasibility and on the saving."""
    inst = load_instance(fleet_dir / "cordeau" / f"{name}.txt")
    ker = _Kernels(inst)
    rng = np.random.default_rng(0)
    for trial in range(3):
        st = ker.empty_state()
        order = rng.permutation(inst.n_requests)
        st.bank = [int(r) for r in order]
        ker.repair(st, 0, inst.n_vehicles, 0.0, 0.0, trial)  # sequential: poor but feasible
        before = check_solution(inst, _unpacked(st.routes, st.lens))
        assert before.feasible
        routes, lens = st.routes.copy(), st.lens.copy()
        saved = tail_exchange_search(RouteState(routes, lens), ker.data)
        after = check_solution(inst, _unpacked(routes, lens))
        assert after.feasible, after.violations
        assert saved >= 0
        empty_before = int(np.count_nonzero(st.lens <= 2))
        if int(np.count_nonzero(lens <= 2)) == empty_before:
            assert after.cost == pytest.approx(before.cost - saved, abs=1e-6)
        else:  # an emptied route saves its depot-to-depot arc as well
            assert after.cost <= before.cost - saved + 1e-6
        saved2 = relocate_search(RouteState(routes, lens), order.astype(np.int64), 0.0, ker.data)
        final = check_solution(inst, _unpacked(routes, lens))
        assert final.feasible, final.violations
        assert final.cost == pytest.approx(after.cost - saved2, abs=1e-6)
        assert final.cost < before.cost  # a sequential insertion leaves room to improve


def test_removal_operators_pick_distinct_routed_requests(fleet_dir: Path) -> None:
    from fleet.solver import destroy as ds

    inst = load_instance(fleet_dir / "cordeau" / "a4-24.txt")
    ker = _Kernels(inst)
    st = ker.empty_state()
    ker.repair(st, 2, inst.n_vehicles, 0.0, 0.0, 0)
    assert not st.bank
    R = inst.n_requests
    ker.remove(st, [0, 1, 2])  # three requests wait in the bank
    routed = np.ones(R, dtype=np.bool_)
    routed[:3] = False
    data = ker.data
    pk, dp = data.pickup, data.dropoff
    shaw = np.ascontiguousarray(data.cost[np.ix_(pk, pk)] + data.cost[np.ix_(dp, dp)])
    loads = inst.demand[pk].sum(axis=1).astype(np.float64)
    dd = ds.DestroyData(
        worst_randomness=3.0, shaw_randomness=6.0, w_dist=9.0, w_time=3.0, w_load=2.0,
        n_strings=3, shaw_dist=shaw, horizon=1440.0, loads=loads, load_span=1.0,
    )  # fmt: skip
    from fleet.solver.loop import seed_stream

    seed_stream(3)
    for op in range(ds.N_REMOVALS):
        for q in (1, 5, 12):
            out = np.empty(R + 1, dtype=np.int64)
            n = ds.destroy(op, RouteState(st.routes, st.lens), routed, q, out, dd, data)
            chosen = out[:n].tolist()
            assert n >= 1
            assert len(set(chosen)) == n
            assert all(routed[r] for r in chosen)
            if op != ds.ROUTE:  # route removal takes whole routes
                assert n <= q


def test_best_insertion_matches_brute_force(fleet_dir: Path) -> None:
    """Oracle: the pruned insertion finds the cheapest position a full enumeration finds.

    Every pair of positions is tried on the route, kept when the load stays
    within capacity and the eight-step schedule accepts it; the pruning of
    :func:`best_insertion` must neither lose the cheapest such position nor
    return a cheaper one.
    """
    from fleet.solver.data import new_workspace
    from fleet.solver.insertion import best_insertion
    from fleet.solver.routes import build_inserted
    from fleet.solver.schedule import fits

    inst = load_instance(fleet_dir / "cordeau" / "a4-24.txt")
    sol = solve(inst, time_limit=60.0, seed=0, max_iterations=30)
    ker = _Kernels(inst)
    data = ker.data
    width = 2 * inst.n_requests + 4
    ws = new_workspace(inst.n_nodes, width + 2, data.demand.shape[1])
    nodepos = np.full(inst.n_nodes, -1, dtype=np.int64)
    work = np.empty((4, width + 2))
    buf = np.empty(width + 2, dtype=np.int64)
    ld = np.zeros(data.demand.shape[1], dtype=np.int64)
    compared = found = 0
    for k, route in enumerate(sol.routes):
        for r in {int(data.node_request[v]) for v in route}:
            p, d = int(data.pickup[r]), int(data.dropoff[r])
            rest = [v for v in route if v not in (p, d)]
            seq = np.array([inst.start_node[k], *rest, inst.end_node[k]], dtype=np.int64)
            n = seq.size
            brute = np.inf
            for i in range(1, n):
                for j in range(i, n):
                    m = build_inserted(seq, n, p, d, i, j, buf)
                    if not fits(buf, m, k, data.demand, data.cap, ld):
                        continue
                    if not route_schedule(buf, m, k, data, nodepos, work):
                        continue
                    a, b = seq[i - 1], seq[i]
                    if j == i:
                        delta = data.cost[a, p] + data.cost[p, d] + data.cost[d, b]
                        delta -= data.cost[a, b]
                    else:
                        x, y = seq[j - 1], seq[j]
                        delta = data.cost[a, p] + data.cost[p, b] - data.cost[a, b]
                        delta += data.cost[x, d] + data.cost[d, y] - data.cost[x, y]
                    brute = min(brute, delta)
            fast, i, j = best_insertion(seq, n, k, p, d, data, ws, 0.0)
            compared += 1
            if np.isfinite(brute):
                found += 1
                assert fast == pytest.approx(brute, abs=1e-9), (k, r)
                m = build_inserted(seq, n, p, d, i, j, buf)
                assert route_schedule(buf, m, k, data, nodepos, work)
            else:
                assert fast == np.inf, (k, r)
    assert compared >= inst.n_requests
    assert found == compared  # each request fits back into the route it came from


def test_operator_constants_follow_the_driver_names() -> None:
    """The loop kernel dispatches on operator indices; they must match the driver's names."""
    from fleet.solver import destroy as ds
    from fleet.solver import loop as lp
    from fleet.solver.alns import REMOVALS, REPAIRS

    assert len(REMOVALS) == ds.N_REMOVALS
    assert [REMOVALS.index(n) for n in ("random", "worst", "shaw", "route", "string")] == [
        ds.RANDOM, ds.WORST, ds.SHAW, ds.ROUTE, ds.STRING,
    ]  # fmt: skip
    assert len(REPAIRS) == lp.N_REPAIRS
    assert REPAIRS.index("regret2-noise") == lp.REGRET2_NOISE
    assert REPAIRS.index("blink-random") == lp.BLINK_RANDOM
    assert REPAIRS.index("blink-far") == lp.BLINK_FAR
