"""An independent solution checker for dial-a-ride and PDPTW solutions.

Written apart from the solvers on purpose: plain Python, no numba, no shared
feasibility helpers. It recomputes travel times and costs from the raw instance
data (coordinates for Euclidean instances) and verifies every constraint.

Timing is decided *exactly*. A fixed visiting sequence is time-feasible iff
some schedule of service start times ``B`` exists with

* ``B[p+1] >= B[p] + service[p] + time[p, p+1]``   (travel; waiting allowed)
* ``early[p] <= B[p] <= late[p]``                   (time windows, vehicle shift)
* ``B[drop] - (B[pick] + service[pick]) <= L``     (maximum ride time)
* ``B[end] - B[start] <= T``                        (maximum route duration)

Every constraint is a difference ``x_v - x_u <= w``, so the system is feasible
iff its constraint graph has no negative cycle (Bellman-Ford). This is exact,
unlike "earliest start" schedules, which overstate ride times; it accepts a
route whenever any schedule exists (e.g. the one Cordeau & Laporte's delayed
departures would find). On infeasibility the negative cycle names the
constraints in conflict, which decides the reported violation kind.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from fleet.model import Instance

EPS = 1e-6

VIOLATION_KINDS = (
    "vehicle-count",
    "unknown-node",
    "depot",
    "unserved",
    "duplicate",
    "pairing",
    "precedence",
    "capacity",
    "time-window",
    "ride-time",
    "route-duration",
)


@dataclass(frozen=True)
class Violation:
    """One broken constraint: its kind, the vehicle (or -1) and a readable detail."""

    kind: str
    vehicle: int
    detail: str


@dataclass
class CheckReport:
    """The checker's verdict on a solution.

    Attributes
    ----------
    feasible : bool
        True when no constraint is violated.
    cost : float
        Recomputed total travel cost.
    vehicles : int
        Non-empty routes.
    violations : list of Violation
        Everything that is wrong (empty when feasible).
    schedules : list of list of float or None
        Per vehicle, the earliest feasible start-of-service times at start
        depot, stops and end depot (None when the route has no schedule).
    ride_times : dict of int to float
        Ride time of every request in those schedules.
    """

    feasible: bool
    cost: float
    vehicles: int
    violations: list[Violation] = field(default_factory=list)
    schedules: list[list[float] | None] = field(default_factory=list)
    ride_times: dict[int, float] = field(default_factory=dict)

    def kinds(self) -> set[str]:
        """The set of violation kinds found."""
        return {v.kind for v in self.violations}

    def summary(self) -> str:
        """One line: 'feasible' or the count of violations per kind."""
        if self.feasible:
            return "feasible"
        counts: dict[str, int] = {}
        for v in self.violations:
            counts[v.kind] = counts.get(v.kind, 0) + 1
        return "INFEASIBLE: " + ", ".join(f"{n} {k}" for k, n in counts.items())


class _Data:
    """Plain-Python copies of the instance fields the checker needs."""

    def __init__(self, inst: Instance) -> None:
        self.n = inst.n_nodes
        self.x = [float(v) for v in inst.x]
        self.y = [float(v) for v in inst.y]
        self.service = [float(v) for v in inst.service]
        self.early = [float(v) for v in inst.early]
        self.late = [float(v) for v in inst.late]
        self.demand = [[int(v) for v in row] for row in inst.demand]
        self.pickup = [int(v) for v in inst.pickup]
        self.dropoff = [int(v) for v in inst.dropoff]
        self.max_ride = [float(v) for v in inst.max_ride]
        self.capacity = [[int(v) for v in row] for row in inst.capacity]
        self.start = [int(v) for v in inst.start_node]
        self.end = [int(v) for v in inst.end_node]
        self.shift_start = [float(v) for v in inst.shift_start]
        self.shift_end = [float(v) for v in inst.shift_end]
        self.max_duration = [float(v) for v in inst.max_duration]
        self.euclidean = inst.matrix.metric == "euclidean"
        self.speed = float(inst.matrix.speed)
        self._time = inst.matrix.time
        self._cost = inst.matrix.cost
        self.request_of: dict[int, tuple[int, str]] = {}
        for r, (p, d) in enumerate(zip(self.pickup, self.dropoff, strict=True)):
            self.request_of[p] = (r, "pickup")
            self.request_of[d] = (r, "dropoff")

    def dist(self, a: int, b: int) -> float:
        if self.euclidean:
            return math.hypot(self.x[a] - self.x[b], self.y[a] - self.y[b])
        return float(self._cost[a, b])

    def time(self, a: int, b: int) -> float:
        if self.euclidean:
            return math.hypot(self.x[a] - self.x[b], self.y[a] - self.y[b]) / self.speed
        return float(self._time[a, b])


def check_solution(instance: Instance, routes: Sequence[Sequence[int]]) -> CheckReport:
    """Verify a solution and recompute its cost.

    Parameters
    ----------
    instance : Instance
        The instance the routes claim to solve.
    routes : sequence of sequences of int
        ``routes[k]``: nodes vehicle ``k`` visits. The vehicle's start and end
        depot may be given as first and last element or left out.

    Returns
    -------
    CheckReport
        Verdict, recomputed cost, every violation and the schedules.
    """
    data = _Data(instance)
    violations: list[Violation] = []
    K = len(data.capacity)
    if len(routes) > K:
        violations.append(Violation("vehicle-count", -1, f"{len(routes)} routes for {K} vehicles"))
    clean: list[list[int]] = []
    for k, raw in enumerate(routes):
        stops = [int(v) for v in raw]
        if k < K:
            if stops and stops[0] == data.start[k]:
                stops = stops[1:]
            if stops and stops[-1] == data.end[k]:
                stops = stops[:-1]
        kept = []
        for v in stops:
            if not 0 <= v < data.n:
                violations.append(Violation("unknown-node", k, f"node {v} does not exist"))
            elif v not in data.request_of:
                violations.append(
                    Violation("depot", k, f"depot node {v} visited in the middle of the route")
                )
            else:
                kept.append(v)
        clean.append(kept)

    # Every request exactly once, pickup and drop-off on one vehicle, in order.
    seen: dict[int, list[tuple[int, int]]] = {}
    for k, stops in enumerate(clean):
        for pos, v in enumerate(stops):
            seen.setdefault(v, []).append((k, pos))
    for r, (p, d) in enumerate(zip(data.pickup, data.dropoff, strict=True)):
        sp, sd = seen.get(p, []), seen.get(d, [])
        if not sp and not sd:
            violations.append(Violation("unserved", -1, f"request {r} is not served"))
            continue
        if len(sp) > 1 or len(sd) > 1:
            violations.append(
                Violation(
                    "duplicate", -1, f"request {r} visited {len(sp)}x pickup, {len(sd)}x drop-off"
                )
            )
            continue
        if not sp or not sd:
            missing = "pickup" if not sp else "drop-off"
            violations.append(
                Violation(
                    "unserved", -1, f"request {r}: {missing} {p if not sp else d} never visited"
                )
            )
            continue
        (kp, pp), (kd, pd) = sp[0], sd[0]
        if kp != kd:
            violations.append(
                Violation("pairing", kp, f"request {r}: pickup on vehicle {kp}, drop-off on {kd}")
            )
        elif pp > pd:
            violations.append(
                Violation("precedence", kp, f"request {r}: drop-off {d} before pickup {p}")
            )

    cost = 0.0
    schedules: list[list[float] | None] = []
    ride_times: dict[int, float] = {}
    for k, stops in enumerate(clean):
        if k >= K:
            schedules.append(None)
            continue
        if stops:
            nodes = [data.start[k], *stops, data.end[k]]
            cost += sum(data.dist(a, b) for a, b in itertools.pairwise(nodes))
        violations.extend(_check_capacity(data, k, stops))
        sched, route_violations = _check_timing(data, k, stops)
        violations.extend(route_violations)
        schedules.append(sched)
        if sched is not None:
            position = {v: i + 1 for i, v in enumerate(stops)}
            for v in stops:
                r, role = data.request_of[v]
                drop = data.dropoff[r]
                if role == "pickup" and drop in position and position[drop] > position[v]:
                    b_p, b_d = sched[position[v]], sched[position[drop]]
                    ride_times[r] = b_d - (b_p + data.service[v])
    return CheckReport(
        feasible=not violations,
        cost=cost,
        vehicles=sum(1 for s in clean if s),
        violations=violations,
        schedules=schedules,
        ride_times=ride_times,
    )


def _check_capacity(data: _Data, k: int, stops: list[int]) -> list[Violation]:
    load = [0] * len(data.capacity[k])
    out = []
    for v in stops:
        for dim, change in enumerate(data.demand[v]):
            load[dim] += change
        for dim, cap in enumerate(data.capacity[k]):
            if load[dim] > cap:
                out.append(
                    Violation(
                        "capacity",
                        k,
                        f"load {load[dim]} > capacity {cap} (dim {dim}) after node {v}",
                    )
                )
            elif load[dim] < 0:
                out.append(Violation("capacity", k, f"negative load (dim {dim}) after node {v}"))
    return out


def _check_timing(
    data: _Data, k: int, stops: list[int]
) -> tuple[list[float] | None, list[Violation]]:
    """Exact schedule feasibility of one route by difference constraints."""
    if not stops:
        return [], []
    nodes = [data.start[k], *stops, data.end[k]]
    m = len(nodes)
    early = [data.early[v] for v in nodes]
    late = [data.late[v] for v in nodes]
    early[0] = max(early[0], data.shift_start[k])
    late[-1] = min(late[-1], data.shift_end[k])
    gap = [data.service[nodes[p]] + data.time(nodes[p], nodes[p + 1]) for p in range(m - 1)]

    # Time windows and travel alone: the earliest schedule decides exactly.
    b = early[0]
    for p in range(m):
        if p:
            b = max(early[p], b + gap[p - 1])
        if b > late[p] + EPS:
            return None, [
                Violation(
                    "time-window",
                    k,
                    f"node {nodes[p]} reached at {b:.3f} at the earliest, "
                    f"window closes at {late[p]:g}",
                )
            ]

    # Full system: variables 0..m-1 (positions) and Z = m (time zero).
    Z = m
    edges: list[tuple[int, int, float, str, int]] = []  # (u, v, w, kind, ref): x_v - x_u <= w
    for p in range(m - 1):
        edges.append((p + 1, p, -gap[p], "travel", p))
    for p in range(m):
        if math.isfinite(late[p]):
            edges.append((Z, p, late[p], "late", p))
        edges.append((p, Z, -early[p], "early", p))
    pos = {v: i for i, v in enumerate(nodes) if 0 < i < m - 1}
    for v, i in pos.items():
        r, role = data.request_of[v]
        if role != "pickup" or not math.isfinite(data.max_ride[r]):
            continue
        j = pos.get(data.dropoff[r])
        if j is not None and j > i:
            edges.append((i, j, data.max_ride[r] + data.service[v], "ride", r))
    if math.isfinite(data.max_duration[k]):
        edges.append((0, m - 1, data.max_duration[k], "duration", -1))

    cycle = _negative_cycle(m + 1, edges)
    if cycle is not None:
        rides = sorted({ref for kind, ref in cycle if kind == "ride"})
        if rides:
            return None, [
                Violation(
                    "ride-time",
                    k,
                    f"request {r}: no schedule keeps its ride time within "
                    f"{data.max_ride[r]:g} together with the other constraints",
                )
                for r in rides
            ]
        if any(kind == "duration" for kind, _ in cycle):
            return None, [
                Violation(
                    "route-duration", k, f"route cannot be done within {data.max_duration[k]:g}"
                )
            ]
        late_nodes = [nodes[ref] for kind, ref in cycle if kind == "late"]
        return None, [Violation("time-window", k, f"time windows of nodes {late_nodes} conflict")]

    # Earliest feasible schedule: B_p = -dist(p -> Z), shortest paths to Z.
    dist = [math.inf] * (m + 1)
    dist[Z] = 0.0
    for _ in range(m + 1):
        changed = False
        for u, v, w, _kind, _ref in edges:  # reversed edge v -> u
            if dist[v] + w < dist[u] - 1e-12:
                dist[u] = dist[v] + w
                changed = True
        if not changed:
            break
    return [-dist[p] for p in range(m)], []


def _negative_cycle(
    n: int, edges: list[tuple[int, int, float, str, int]]
) -> list[tuple[str, int]] | None:
    """Bellman-Ford from a virtual source; the (kind, ref) of a negative cycle's edges or None."""
    dist = [0.0] * n
    pred: list[int] = [-1] * n  # index into edges
    last = -1
    for _ in range(n):
        last = -1
        for idx, (u, v, w, _kind, _ref) in enumerate(edges):
            if dist[u] + w < dist[v] - EPS:
                dist[v] = dist[u] + w
                pred[v] = idx
                last = v
        if last < 0:
            return None
    # Still relaxing after n rounds: walk back n steps to land on the cycle.
    v = last
    for _ in range(n):
        v = edges[pred[v]][0]
    cycle = []
    u = v
    while True:
        e = edges[pred[u]]
        cycle.append((e[3], e[4]))
        u = e[0]
        if u == v:
            break
    return cycle
