"""The dial-a-ride model: nodes, requests, vehicles and a travel matrix, as arrays.

An :class:`Instance` is a frozen bundle of parallel numpy arrays so that the
numba kernels can take its fields directly. Every place a vehicle can stop is a
*node*: vehicle start and end depots, request pickups and drop-offs. A request
``r`` is the pair of nodes ``pickup[r]`` -> ``dropoff[r]``; its load (seats and
wheelchair places) is added at the pickup and removed at the drop-off.

The same shape serves the benchmark families (Cordeau DARP, Li & Lim PDPTW,
Euclidean matrices) and the online dispatcher (road-network matrices, vehicles
starting anywhere at any time: a vehicle's start node is simply its current
position and ``shift_start`` the time it gets there).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routing.errors import DataError

#: Load dimensions of a vehicle: ordinary seats and wheelchair places.
LOAD_DIMS = ("seats", "wheelchairs")

#: Node kinds as stored in :attr:`Instance.node_kind`.
DEPOT, PICKUP, DROPOFF = 0, 1, 2

#: Objectives: total cost, or fewest vehicles first and then total cost (Li & Lim).
OBJECTIVES = ("cost", "vehicles-cost")


@dataclass(frozen=True, eq=False)
class TravelMatrix:
    """Travel times and travel costs between all nodes.

    Attributes
    ----------
    time : ndarray of float64, shape (n, n)
        Travel time from node ``i`` to node ``j`` (instance time unit: minutes for
        the benchmarks, seconds for road matrices).
    cost : ndarray of float64, shape (n, n)
        Cost of driving from ``i`` to ``j`` (distance for the benchmarks).
    metric : str
        ``"euclidean"`` when both are derived from planar coordinates, ``"road"``
        for matrices from the road core.
    speed : float
        Distance units per time unit used to derive ``time`` (Euclidean only).
    """

    time: np.ndarray
    cost: np.ndarray
    metric: str = "euclidean"
    speed: float = 1.0

    @classmethod
    def euclidean(cls, x: np.ndarray, y: np.ndarray, *, speed: float = 1.0) -> TravelMatrix:
        """Unrounded Euclidean distances as cost, distance / ``speed`` as time."""
        if speed <= 0:
            raise DataError(f"speed must be positive, got {speed}")
        dx = x[:, None] - x[None, :]
        dy = y[:, None] - y[None, :]
        dist = np.sqrt(dx * dx + dy * dy)
        return cls(time=dist / speed, cost=dist, metric="euclidean", speed=float(speed))


@dataclass(frozen=True)
class Request:
    """One transport request (a view of an :class:`Instance` row)."""

    id: int
    pickup: int
    dropoff: int
    seats: int
    wheelchairs: int
    pickup_window: tuple[float, float]
    dropoff_window: tuple[float, float]
    max_ride_time: float


@dataclass(frozen=True)
class Vehicle:
    """One vehicle (a view of an :class:`Instance` row)."""

    id: int
    seats: int
    wheelchairs: int
    start_node: int
    end_node: int
    shift: tuple[float, float]
    max_duration: float


@dataclass(frozen=True, eq=False)
class Instance:
    """A static dial-a-ride / pickup-and-delivery instance as arrays.

    Attributes
    ----------
    name : str
        Instance name (file stem for benchmark instances).
    x, y : ndarray of float64, shape (n,)
        Node coordinates (planar for benchmark instances, lon/lat for road ones).
    service : ndarray of float64, shape (n,)
        Service duration at each node.
    demand : ndarray of int64, shape (n, 2)
        Load change at each node per :data:`LOAD_DIMS` (positive at pickups).
    early, late : ndarray of float64, shape (n,)
        Time window on the start of service at each node.
    pickup, dropoff : ndarray of int64, shape (R,)
        Pickup and drop-off node of each request.
    max_ride : ndarray of float64, shape (R,)
        Maximum ride time of each request (``inf`` when unlimited). Ride time is
        start of service at the drop-off minus departure from the pickup.
    capacity : ndarray of int64, shape (K, 2)
        Capacity of each vehicle per :data:`LOAD_DIMS`.
    start_node, end_node : ndarray of int64, shape (K,)
        Where each vehicle starts and must end.
    shift_start, shift_end : ndarray of float64, shape (K,)
        Earliest departure from the start node and latest arrival at the end node.
    max_duration : ndarray of float64, shape (K,)
        Maximum route duration (end arrival minus start departure; ``inf`` if none).
    matrix : TravelMatrix
        Travel times and costs between nodes.
    objective : str
        ``"cost"`` or ``"vehicles-cost"`` (hierarchical, Li & Lim).
    family : str
        ``"cordeau"``, ``"lilim"`` or ``"custom"``.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    service: np.ndarray
    demand: np.ndarray
    early: np.ndarray
    late: np.ndarray
    pickup: np.ndarray
    dropoff: np.ndarray
    max_ride: np.ndarray
    capacity: np.ndarray
    start_node: np.ndarray
    end_node: np.ndarray
    shift_start: np.ndarray
    shift_end: np.ndarray
    max_duration: np.ndarray
    matrix: TravelMatrix
    objective: str = "cost"
    family: str = "custom"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def n_nodes(self) -> int:
        """Number of nodes (depots, pickups and drop-offs)."""
        return int(self.x.shape[0])

    @property
    def n_requests(self) -> int:
        """Number of requests."""
        return int(self.pickup.shape[0])

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles available."""
        return int(self.capacity.shape[0])

    @property
    def node_kind(self) -> np.ndarray:
        """Kind of each node: :data:`DEPOT`, :data:`PICKUP` or :data:`DROPOFF` (int8)."""
        kind = np.zeros(self.n_nodes, dtype=np.int8)
        kind[self.pickup] = PICKUP
        kind[self.dropoff] = DROPOFF
        return kind

    @property
    def node_request(self) -> np.ndarray:
        """Request id served at each node, -1 for depots (int64)."""
        req = np.full(self.n_nodes, -1, dtype=np.int64)
        req[self.pickup] = np.arange(self.n_requests)
        req[self.dropoff] = np.arange(self.n_requests)
        return req

    def request(self, r: int) -> Request:
        """Request ``r`` as a small record."""
        p, d = int(self.pickup[r]), int(self.dropoff[r])
        return Request(
            id=r,
            pickup=p,
            dropoff=d,
            seats=int(self.demand[p, 0]),
            wheelchairs=int(self.demand[p, 1]),
            pickup_window=(float(self.early[p]), float(self.late[p])),
            dropoff_window=(float(self.early[d]), float(self.late[d])),
            max_ride_time=float(self.max_ride[r]),
        )

    def vehicle(self, k: int) -> Vehicle:
        """Vehicle ``k`` as a small record."""
        return Vehicle(
            id=k,
            seats=int(self.capacity[k, 0]),
            wheelchairs=int(self.capacity[k, 1]),
            start_node=int(self.start_node[k]),
            end_node=int(self.end_node[k]),
            shift=(float(self.shift_start[k]), float(self.shift_end[k])),
            max_duration=float(self.max_duration[k]),
        )

    def route_cost(self, route: list[int] | np.ndarray, k: int) -> float:
        """Cost of vehicle ``k`` driving ``route`` (stops without depots); 0 if empty."""
        if len(route) == 0:
            return 0.0
        nodes = [int(self.start_node[k]), *map(int, route), int(self.end_node[k])]
        return float(sum(self.matrix.cost[a, b] for a, b in itertools.pairwise(nodes)))

    def validate(self) -> None:
        """Check array shapes and basic consistency; raise :class:`DataError` if broken."""
        n, R, K = self.n_nodes, self.n_requests, self.n_vehicles
        where = f"instance {self.name!r}"
        for name in ("y", "service", "early", "late"):
            if getattr(self, name).shape != (n,):
                raise DataError(
                    f"{where}: {name} has shape {getattr(self, name).shape}, want ({n},)"
                )
        if self.demand.shape != (n, len(LOAD_DIMS)):
            raise DataError(f"{where}: demand has shape {self.demand.shape}, want ({n}, 2)")
        for name in ("dropoff", "max_ride"):
            if getattr(self, name).shape != (R,):
                raise DataError(
                    f"{where}: {name} has shape {getattr(self, name).shape}, want ({R},)"
                )
        for name in ("start_node", "end_node", "shift_start", "shift_end", "max_duration"):
            if getattr(self, name).shape != (K,):
                raise DataError(
                    f"{where}: {name} has shape {getattr(self, name).shape}, want ({K},)"
                )
        if self.matrix.time.shape != (n, n) or self.matrix.cost.shape != (n, n):
            raise DataError(f"{where}: travel matrix is not {n}x{n}")
        if K == 0:
            raise DataError(f"{where}: no vehicles")
        stops = np.concatenate([self.pickup, self.dropoff])
        if stops.size and (stops.min() < 0 or stops.max() >= n):
            raise DataError(f"{where}: a request names a node outside 0..{n - 1}")
        if np.unique(stops).size != stops.size:
            raise DataError(f"{where}: a node is used by more than one request stop")
        depots = np.concatenate([self.start_node, self.end_node])
        if np.isin(depots, stops).any():
            raise DataError(f"{where}: a depot node is also a request stop")
        if np.any(self.early > self.late):
            bad = int(np.argmax(self.early > self.late))
            raise DataError(f"{where}: node {bad} has an empty time window")
        if np.any(self.demand[self.pickup] != -self.demand[self.dropoff]):
            bad = int(np.argmax(np.any(self.demand[self.pickup] != -self.demand[self.dropoff], 1)))
            raise DataError(
                f"{where}: request {bad} loads {self.demand[self.pickup[bad]].tolist()} at its "
                f"pickup but unloads {(-self.demand[self.dropoff[bad]]).tolist()} at its drop-off"
            )
        if np.any(self.demand[self.pickup] < 0):
            raise DataError(f"{where}: a pickup has a negative load")
        if self.objective not in OBJECTIVES:
            raise DataError(f"{where}: objective {self.objective!r} not one of {OBJECTIVES}")
        if not (np.all(np.isfinite(self.matrix.time)) and np.all(self.matrix.time >= 0)):
            raise DataError(f"{where}: travel times must be finite and non-negative")


@dataclass
class Solution:
    """Routes of a solved instance plus how they were found.

    Attributes
    ----------
    routes : list of list of int
        ``routes[k]`` is the sequence of nodes vehicle ``k`` visits between its
        start and end depot (empty when the vehicle stays home).
    cost : float
        Total travel cost as computed by the solver.
    unassigned : list of int
        Requests the solver could not place (a valid answer has none).
    solver : str
        ``"ours"`` or ``"ortools"``.
    runtime : float
        Wall-clock seconds spent.
    iterations : int
        Improvement iterations done (0 for the OR-Tools backend).
    info : dict
        Extra solver details (seed, status, operator statistics).
    """

    routes: list[list[int]]
    cost: float
    unassigned: list[int] = field(default_factory=list)
    solver: str = "ours"
    runtime: float = 0.0
    iterations: int = 0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def vehicles_used(self) -> int:
        """Number of non-empty routes."""
        return sum(1 for r in self.routes if r)

    @property
    def found(self) -> bool:
        """True when every request was placed in a route."""
        return not self.unassigned and math.isfinite(self.cost)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the solution."""
        return {
            "solver": self.solver,
            "cost": self.cost,
            "vehicles": self.vehicles_used,
            "unassigned": list(self.unassigned),
            "routes": [list(map(int, r)) for r in self.routes],
            "runtime_s": self.runtime,
            "iterations": self.iterations,
            "info": self.info,
        }
