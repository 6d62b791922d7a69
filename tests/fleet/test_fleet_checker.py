"""The independent checker: accepts good solutions, names every kind of violation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fleet.checker import check_solution
from fleet.model import Instance, TravelMatrix

# Depot at the origin (start 0, end 5); request 0: 1 (0,10) -> 3 (0,20);
# request 1: 2 (10,0) -> 4 (20,0). Travel time = distance.
XY = np.array([[0, 0], [0, 10], [10, 0], [0, 20], [20, 0], [0, 0]], dtype=float)


def tiny(**over) -> Instance:
    x, y = XY[:, 0].copy(), XY[:, 1].copy()
    fields = {
        "name": "tiny",
        "x": x,
        "y": y,
        "service": np.zeros(6),
        "demand": np.array([[0, 0], [1, 0], [1, 0], [-1, 0], [-1, 0], [0, 0]]),
        "early": np.zeros(6),
        "late": np.full(6, 1000.0),
        "pickup": np.array([1, 2]),
        "dropoff": np.array([3, 4]),
        "max_ride": np.array([30.0, 30.0]),
        "capacity": np.array([[1, 0], [1, 0]]),
        "start_node": np.array([0, 0]),
        "end_node": np.array([5, 5]),
        "shift_start": np.zeros(2),
        "shift_end": np.full(2, 1000.0),
        "max_duration": np.full(2, 1000.0),
        "matrix": TravelMatrix.euclidean(x, y),
    }
    for key, value in over.items():
        fields[key] = value
    return Instance(**fields)


def test_accepts_good_solution_and_recomputes_cost() -> None:
    rep = check_solution(tiny(), [[1, 3], [2, 4]])
    assert rep.feasible
    assert rep.violations == []
    assert rep.cost == pytest.approx(80.0)
    assert rep.vehicles == 2
    assert rep.ride_times == {0: pytest.approx(10.0), 1: pytest.approx(10.0)}
    # explicit depots are accepted too
    assert check_solution(tiny(), [[0, 1, 3, 5], [0, 2, 4, 5]]).feasible


@pytest.mark.parametrize(
    ("routes", "kind"),
    [
        ([[1, 3], []], "unserved"),
        ([[1, 3], [2, 4, 1, 3]], "duplicate"),
        ([[1, 4], [2, 3]], "pairing"),
        ([[3, 1], [2, 4]], "precedence"),
        ([[1, 2, 3, 4], []], "capacity"),
        ([[1, 5, 3], [2, 4]], "depot"),
        ([[1, 3, 99], [2, 4]], "unknown-node"),
        ([[1, 3], [2, 4], []], "vehicle-count"),
        ([[1, 3]], "unserved"),
    ],
)
def test_rejects_structural_violations(routes: list[list[int]], kind: str) -> None:
    rep = check_solution(tiny(), routes)
    assert not rep.feasible
    assert kind in rep.kinds(), rep.violations


def test_time_window_violation() -> None:
    late = np.full(6, 1000.0)
    late[3] = 15.0  # node 3 is 20 away from the depot via node 1
    rep = check_solution(tiny(late=late), [[1, 3], [2, 4]])
    assert rep.kinds() == {"time-window"}


def test_ride_time_violation_with_capacity_two() -> None:
    # 1 -> 2 -> 3: ride of request 0 is at least |1-2| + |2-3| = 14.1 + 22.4 > 30
    inst = tiny(capacity=np.array([[2, 0], [2, 0]]))
    rep = check_solution(inst, [[1, 2, 3, 4], []])
    assert "ride-time" in rep.kinds()
    assert check_solution(inst, [[1, 3, 2, 4], []]).feasible


def test_delayed_pickup_makes_ride_time_feasible() -> None:
    """Earliest-start schedules overstate ride times; the checker must find the late one."""
    early, late = np.zeros(6), np.full(6, 1000.0)
    early[3], late[3] = 50.0, 60.0  # drop-off window; pickup reachable at t=10
    inst = tiny(early=early, late=late, max_ride=np.array([15.0, 30.0]))
    rep = check_solution(inst, [[1, 3], [2, 4]])
    assert rep.feasible, rep.violations
    assert rep.ride_times[0] <= 15.0 + 1e-9
    # but no schedule exists if the ride limit is below the travel time
    tight = tiny(early=early, late=late, max_ride=np.array([9.0, 30.0]))
    assert check_solution(tight, [[1, 3], [2, 4]]).kinds() == {"ride-time"}


def test_route_duration_with_delayed_departure() -> None:
    early, late = np.zeros(6), np.full(6, 1000.0)
    early[3], late[3] = 50.0, 60.0
    # leaving at t=30 makes the route 1 -> 3 -> depot last 40 + 20 = 60 minutes
    ok = tiny(early=early, late=late, max_duration=np.array([45.0, 1000.0]))
    rep_ok = check_solution(ok, [[1, 3], [2, 4]])
    assert rep_ok.feasible, rep_ok.violations
    assert rep_ok.schedules[0][-1] - rep_ok.schedules[0][0] <= 45.0 + 1e-9
    short = tiny(max_duration=np.array([35.0, 1000.0]))
    assert check_solution(short, [[1, 3], [2, 4]]).kinds() == {"route-duration"}


def test_shift_end_is_a_time_window() -> None:
    inst = tiny(shift_end=np.array([30.0, 1000.0]))
    assert check_solution(inst, [[1, 3], [2, 4]]).kinds() == {"time-window"}


def test_brute_force_schedule_oracle() -> None:
    """On random tiny routes, exact feasibility agrees with a grid search over start times."""
    rng = np.random.default_rng(7)
    for _ in range(40):
        early = np.zeros(6)
        late = np.full(6, 200.0)
        for v in (1, 2, 3, 4):
            e = float(rng.integers(0, 60))
            early[v], late[v] = e, e + float(rng.integers(0, 25))
        ride = np.array([float(rng.integers(10, 40)), float(rng.integers(10, 40))])
        inst = tiny(early=early, late=late, max_ride=ride, capacity=np.array([[2, 0], [2, 0]]))
        seq = [1, 2, 3, 4] if rng.random() < 0.5 else [1, 3, 2, 4]
        verdict = check_solution(inst, [seq, []]).feasible
        assert verdict == _grid_feasible(inst, seq), (early, late, ride, seq)


def _grid_feasible(inst: Instance, seq: list[int]) -> bool:
    """Slow oracle: try every integer departure and waiting pattern (times are integers here)."""
    nodes = [0, *seq, 5]
    t = inst.matrix.time
    best = False

    def go(p: int, times: list[float]) -> bool:
        if p == len(nodes):
            for r in range(2):
                bp = times[nodes.index(int(inst.pickup[r]))]
                bd = times[nodes.index(int(inst.dropoff[r]))]
                if bd - bp > inst.max_ride[r] + 1e-6:
                    return False
            return True
        v = nodes[p]
        lo = inst.early[v] if p == 0 else max(inst.early[v], times[-1] + t[nodes[p - 1], v])
        hi = inst.late[v]
        start = math.ceil(lo - 1e-9)
        cands = [lo] + [float(s) for s in range(start, int(hi) + 1) if s > lo]
        return any(go(p + 1, [*times, c]) for c in cands if c <= hi + 1e-9)

    best = go(0, [])
    return best
