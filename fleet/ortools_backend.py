"""OR-Tools routing backend: the baseline for the static dial-a-ride solver.

Pickup-and-delivery pairs on one vehicle in order, a Time dimension (service
plus travel, waiting as slack, node time windows, vehicle shifts, route
duration as a span upper bound), one capacity dimension per load kind, and the
maximum ride time as ``time(drop) - time(pick) <= L + service(pick)`` on the
cumul variables. OR-Tools needs integers: times are scaled by ``SCALE`` and
travel times rounded *up*, so every schedule it finds stays feasible with the
exact times (the checker verifies it anyway). Hierarchical instances get a
large fixed cost per vehicle.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from fleet.model import Instance, Solution

log = logging.getLogger(__name__)

SCALE = 100

_STATUS = {
    0: "not solved",
    1: "success",
    2: "partial success (local optimum not reached)",
    3: "no solution found",
    4: "time limit reached without a solution",
    5: "invalid model",
    6: "proven infeasible",
    7: "optimal",
}


def solve_ortools(
    instance: Instance,
    *,
    time_limit: float = 10.0,
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION",
    metaheuristic: str = "GUIDED_LOCAL_SEARCH",
    initial_routes: list[list[int]] | None = None,
) -> Solution:
    """Solve ``instance`` with the OR-Tools routing solver.

    Parameters
    ----------
    instance : Instance
        The problem.
    time_limit : float
        Seconds for OR-Tools' search (one core).
    first_solution : str
        Name of an OR-Tools ``FirstSolutionStrategy``.
    metaheuristic : str
        Name of an OR-Tools ``LocalSearchMetaheuristic``.
    initial_routes : list of list of int, optional
        Start the search from these routes (node ids per vehicle, no depots);
        ``info["initial_accepted"]`` tells whether OR-Tools' model accepted them.

    Returns
    -------
    Solution
        When OR-Tools finds no solution: empty routes, every request in
        ``unassigned``, ``cost`` inf and the reason in ``info["status"]``.
    """
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    t0 = time.monotonic()
    inst = instance
    n, K = inst.n_nodes, inst.n_vehicles
    tt = np.ceil(inst.matrix.time * SCALE - 1e-6).astype(np.int64)
    cost = np.rint(inst.matrix.cost * SCALE).astype(np.int64)
    serv = np.ceil(inst.service * SCALE - 1e-6).astype(np.int64)
    # time from leaving-start-of-service i to reaching j
    step: list[list[int]] = (serv[:, None] + tt).tolist()
    cost_l: list[list[int]] = cost.tolist()
    finite_late = inst.late[np.isfinite(inst.late)]
    horizon = (
        math.ceil(
            max(
                float(finite_late.max(initial=0.0)),
                float(np.max(inst.shift_end[np.isfinite(inst.shift_end)], initial=0.0)),
            )
            * SCALE
        )
        + 1
    )
    horizon = max(horizon, max(map(max, step), default=0)) + 1

    manager = pywrapcp.RoutingIndexManager(
        n, K, [int(v) for v in inst.start_node], [int(v) for v in inst.end_node]
    )
    routing = pywrapcp.RoutingModel(manager)
    node_of: Callable[[int], int] = manager.IndexToNode

    def cost_cb(i: int, j: int) -> int:
        return cost_l[node_of(i)][node_of(j)]

    def time_cb(i: int, j: int) -> int:
        return step[node_of(i)][node_of(j)]

    cost_idx = routing.RegisterTransitCallback(cost_cb)
    routing.SetArcCostEvaluatorOfAllVehicles(cost_idx)
    time_idx = routing.RegisterTransitCallback(time_cb)
    routing.AddDimension(time_idx, horizon, horizon, False, "time")
    tdim = routing.GetDimensionOrDie("time")
    for dim in range(inst.demand.shape[1]):
        if not inst.demand[:, dim].any():
            continue
        dem = inst.demand[:, dim].astype(int).tolist()
        idx = routing.RegisterUnaryTransitCallback(lambda i, dem=dem: dem[node_of(i)])
        routing.AddDimensionWithVehicleCapacity(
            idx, 0, [int(c) for c in inst.capacity[:, dim]], True, f"load{dim}"
        )
    if inst.objective == "vehicles-cost":
        routing.SetFixedCostOfAllVehicles(int(cost.max()) * 10 * max(1, inst.n_requests))

    def window(node: int) -> tuple[int, int]:
        lo = math.ceil(inst.early[node] * SCALE - 1e-6)
        hi = (
            math.floor(inst.late[node] * SCALE + 1e-6)
            if math.isfinite(inst.late[node])
            else horizon
        )
        return lo, min(hi, horizon)

    depots = set(inst.start_node.tolist()) | set(inst.end_node.tolist())
    for node in range(n):
        if node in depots:
            continue
        lo, hi = window(node)
        tdim.CumulVar(manager.NodeToIndex(node)).SetRange(lo, hi)
    for k in range(K):
        s_lo, s_hi = window(int(inst.start_node[k]))
        e_lo, e_hi = window(int(inst.end_node[k]))
        s_lo = max(s_lo, math.ceil(inst.shift_start[k] * SCALE - 1e-6))
        if math.isfinite(inst.shift_end[k]):
            e_hi = min(e_hi, math.floor(inst.shift_end[k] * SCALE + 1e-6))
        tdim.CumulVar(routing.Start(k)).SetRange(s_lo, max(s_lo, s_hi))
        tdim.CumulVar(routing.End(k)).SetRange(e_lo, e_hi)
        if math.isfinite(inst.max_duration[k]):
            tdim.SetSpanUpperBoundForVehicle(math.floor(inst.max_duration[k] * SCALE + 1e-6), k)

    solver = routing.solver()
    for r in range(inst.n_requests):
        p = manager.NodeToIndex(int(inst.pickup[r]))
        d = manager.NodeToIndex(int(inst.dropoff[r]))
        routing.AddPickupAndDelivery(p, d)
        solver.Add(routing.VehicleVar(p) == routing.VehicleVar(d))
        solver.Add(tdim.CumulVar(p) <= tdim.CumulVar(d))
        if math.isfinite(inst.max_ride[r]):
            limit = math.floor((inst.max_ride[r] + inst.service[inst.pickup[r]]) * SCALE + 1e-6)
            solver.Add(tdim.CumulVar(d) - tdim.CumulVar(p) <= limit)

    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(
        routing_enums_pb2.FirstSolutionStrategy, first_solution
    )
    params.local_search_metaheuristic = getattr(
        routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic
    )
    remaining = max(0.1, time_limit - (time.monotonic() - t0))
    params.time_limit.FromMilliseconds(int(remaining * 1000))
    info: dict[str, Any] = {}
    if initial_routes is not None:
        routing.CloseModelWithParameters(params)
        initial = routing.ReadAssignmentFromRoutes(
            [[manager.NodeToIndex(int(v)) for v in r] for r in initial_routes], True
        )
        info["initial_accepted"] = initial is not None
        assignment = (
            routing.SolveFromAssignmentWithParameters(initial, params)
            if initial is not None
            else routing.SolveWithParameters(params)
        )
    else:
        assignment = routing.SolveWithParameters(params)
    status = _STATUS.get(routing.status(), str(routing.status()))
    runtime = time.monotonic() - t0
    if assignment is None:
        log.info("ortools %s: %s after %.1f s", inst.name, status, runtime)
        return Solution(
            routes=[[] for _ in range(K)],
            cost=math.inf,
            unassigned=list(range(inst.n_requests)),
            solver="ortools",
            runtime=runtime,
            info={**info, "status": status},
        )
    routes: list[list[int]] = []
    for k in range(K):
        idx = assignment.Value(routing.NextVar(routing.Start(k)))
        route = []
        while not routing.IsEnd(idx):
            route.append(node_of(idx))
            idx = assignment.Value(routing.NextVar(idx))
        routes.append(route)
    total = float(sum(inst.route_cost(r, k) for k, r in enumerate(routes)))
    log.info(
        "ortools %s: cost %.2f, %d vehicles (%s) in %.1f s",
        inst.name,
        total,
        sum(1 for r in routes if r),
        status,
        runtime,
    )
    return Solution(
        routes=routes,
        cost=total,
        solver="ortools",
        runtime=runtime,
        info={**info, "status": status},
    )
