"""The online dispatcher: accept or reject ride requests one at a time, keep every promise.

State
-----
Routes are rows of an int array as the static kernels expect them: the
vehicle's start node (where it is or drives to, from ``t_free``), then one
node per passenger on board (the pickup they were picked up at, pinned to the
start time, so their drop-offs can be planned with the usual pairing), then the
plan (stops not yet started), then the shared open end. A passenger on board
has no ride-time limit any more: it became an absolute drop-off deadline when
they boarded. The start and the passengers on board are *committed*: a new
stop can only go after them, because a pinned pickup cannot be reached later
than the start time.

Decisions
---------
For a new request the pickup window is ``[earliest, earliest + max_wait]`` and
the drop-off deadline ``min(latest arrival, latest pickup + boarding + max
ride)``, with ``max ride = alpha * direct + beta`` on the ride time. Every
candidate vehicle's cheapest feasible insertion comes from the static solver's
kernel (pruned, verified by the eight-step schedule); the best vehicle by
``added cost + wait_weight * wait + detour_weight * detour`` wins, provided its
battery covers the new plan. The promise is the window (tightened to the
planned pickup plus a tolerance when the rules say so) and the deadline; they
become the node's time windows, so any later insertion or re-optimisation
keeps them by construction.

Execution
---------
A vehicle leaves for its next stop as late as the planned schedule allows
(it stays free for insertions in front of that stop until then), commits to
it when leaving, and serves it at the planned time. Events are processed in
time order by :meth:`Dispatcher.advance_to`.
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fleet.model import DROPOFF, PICKUP
from fleet.online import insertion
from fleet.online.charging import BatterySpec, ChargingPlanner, ChargingSite
from fleet.online.plan import RoutePlan
from fleet.online.pool import END, StopPool
from fleet.online.promises import Promise, PromiseRules, Tariff, Trip
from fleet.online.reoptimise import improve
from fleet.online.travel import TravelModel
from fleet.online.vehicle_state import (
    ChargeRecord,
    LegRecord,
    Mode,
    Move,
    RequestRecord,
    StopRecord,
    VehicleState,
)
from fleet.solver.data import ProblemData, RouteState, problem_data
from fleet.solver.routes import build_inserted
from routing.errors import DataError, RequestError, SnapError

log = logging.getLogger(__name__)

POLICIES = ("insertion", "no-pooling", "nearest-idle")
OBJECTIVES = ("time", "distance")
EPS = 1e-6

# event kinds, in the order they are handled at equal times
_MOVE_DONE, _DEPART, _IDLE = 0, 1, 2


@dataclass(frozen=True, kw_only=True)
class FleetSpec:
    """The vehicles.

    Attributes
    ----------
    n_vehicles : int
    seats : int
        Seats of every vehicle.
    wheelchairs : int or tuple of int
        Wheelchair places of every vehicle, or per vehicle (cycled).
    depots : tuple of int
        Travel-model locations; vehicle ``k`` starts at ``depots[k % len(depots)]``.
    shift : (float, float)
        Service hours (dispatcher seconds).
    battery : BatterySpec or None
        E-shuttles when given.
    """

    n_vehicles: int
    seats: int = 8
    wheelchairs: int | tuple[int, ...] = 1
    depots: tuple[int, ...] = ()
    shift: tuple[float, float] = (0.0, 86400.0)
    battery: BatterySpec | None = None

    def __post_init__(self) -> None:
        if self.n_vehicles < 1:
            raise RequestError(f"need at least one vehicle, got {self.n_vehicles}")
        places = self.wheelchairs if isinstance(self.wheelchairs, tuple) else (self.wheelchairs,)
        if self.seats < 1 or not places or min(places) < 0:
            raise RequestError(
                f"vehicles need >= 1 seat and >= 0 wheelchair places "
                f"(got {self.seats}, {self.wheelchairs})"
            )
        if not self.depots:
            raise RequestError("give at least one depot location")
        if not self.shift[0] < self.shift[1]:
            raise RequestError(f"shift {self.shift} is empty; give start < end")

    def places(self, k: int) -> int:
        """Wheelchair places of vehicle ``k``."""
        if isinstance(self.wheelchairs, tuple):
            return int(self.wheelchairs[k % len(self.wheelchairs)])
        return int(self.wheelchairs)


@dataclass(frozen=True, kw_only=True)
class DispatchConfig:
    """How decisions are made.

    Attributes
    ----------
    rules : PromiseRules
    tariff : Tariff
    policy : str
        ``"insertion"`` (pooling: best insertion into any vehicle),
        ``"no-pooling"`` (baseline: one request on board at a time, the vehicle
        that can pick up earliest wins, trips queue behind each other) or
        ``"nearest-idle"`` (baseline: only vehicles with nothing planned, the
        earliest pickup wins).
    objective : str
        Route cost in ``"time"`` (seconds driven) or ``"distance"`` (metres).
    wait_weight, detour_weight : float
        Weights of the new passenger's wait and ride detour (seconds) in the
        choice of vehicle.
    reoptimise_iterations : int
        Destroy-and-repair rounds per re-optimisation (after a relocate pass).
    reoptimise_horizon_s : float
        Only requests with an earliest pickup within this many seconds move.
    max_remove : int
        Requests removed per round.
    """

    rules: PromiseRules = field(default_factory=PromiseRules)
    tariff: Tariff = field(default_factory=Tariff)
    policy: str = "insertion"
    objective: str = "time"
    wait_weight: float = 0.5
    detour_weight: float = 0.5
    reoptimise_iterations: int = 20
    reoptimise_horizon_s: float = 3600.0
    max_remove: int = 6

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise RequestError(f"policy {self.policy!r} is not one of {', '.join(POLICIES)}")
        if self.objective not in OBJECTIVES:
            raise RequestError(
                f"objective {self.objective!r} is not one of {', '.join(OBJECTIVES)}"
            )


class Dispatcher:
    """Online dial-a-ride dispatcher (see the module docstring).

    Parameters
    ----------
    travel : TravelModel
        Travel times between locations.
    fleet : FleetSpec
        Vehicles.
    config : DispatchConfig
        Rules and policy.
    charging_sites : list of ChargingSite, optional
        Where e-shuttles charge (required with a battery).
    seed : int
        Seed of the re-optimisation's random choices.
    """

    def __init__(
        self,
        travel: TravelModel,
        fleet: FleetSpec,
        config: DispatchConfig | None = None,
        *,
        charging_sites: list[ChargingSite] | None = None,
        seed: int = 0,
    ) -> None:
        self.travel = travel
        self.fleet = fleet
        self.config = config or DispatchConfig()
        self.rules = self.config.rules
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        K = fleet.n_vehicles
        if any(int(loc) < 0 for loc in fleet.depots):
            raise DataError("a depot is off the road network; choose a point nearer a road")
        self.pool = StopPool(travel, capacity=max(256, 8 * K))
        starts = self.pool.add([int(fleet.depots[k % len(fleet.depots)]) for k in range(K)])
        self.vehicles: list[VehicleState] = []
        b = fleet.battery
        for k in range(K):
            depot = int(fleet.depots[k % len(fleet.depots)])
            self.vehicles.append(
                VehicleState(
                    index=k,
                    name=f"V{k + 1:03d}",
                    seats=fleet.seats,
                    wheelchairs=fleet.places(k),
                    depot=depot,
                    shift=fleet.shift,
                    start=starts[k],
                    loc=depot,
                    t_free=fleet.shift[0],
                    soc_kwh=b.initial * b.capacity_kwh if b else math.inf,
                )
            )
        self.routes = np.zeros((K, 32), dtype=np.int64)
        self.routes[:, 0] = starts
        self.routes[:, 1] = END
        self.lens = np.full(K, 2, dtype=np.int64)
        solo = self.config.policy != "insertion"
        self.cap = np.array(
            [
                [fleet.seats, fleet.places(k), 1 if solo else fleet.seats + fleet.places(k)]
                for k in range(K)
            ],
            dtype=np.int64,
        )
        self.shift_s = np.full(K, fleet.shift[0])
        self.shift_e = np.full(K, fleet.shift[1])
        self.maxdur = np.full(K, np.inf)
        self.charging: ChargingPlanner | None = None
        if b is not None:
            sites = charging_sites or []
            locs = (
                np.array([self._locate_site(s) for s in sites], dtype=np.int64)
                if sites
                else np.empty(0, dtype=np.int64)
            )
            keep = [i for i, loc in enumerate(locs.tolist()) if loc >= 0]
            self.charging = ChargingPlanner([sites[i] for i in keep], locs[keep], b)
        self.now = fleet.shift[0]
        self.records: list[RequestRecord] = []
        self.legs: list[LegRecord] = []
        self.stops: list[StopRecord] = []
        self.charges: list[ChargeRecord] = []
        self.soc_trace: list[tuple[int, float, float]] = []  # (vehicle, time, kWh)
        self.commits: list[tuple[int, float, int, int]] = []  # (vehicle, time, request, kind)
        # execution order of everything above: (vehicle, "leg" | "stop" | "charge", index)
        self.history: list[tuple[int, str, int]] = []
        self.stats: dict[str, int] = {
            "schedule_misses": 0,
            "reoptimisations": 0,
            "reoptimise_moves": 0,
            "repositionings": 0,
        }
        self._events: list[tuple[float, int, int, int, int]] = []
        self._seq = 0
        self._by_id: dict[str, int] = {}
        if b is not None:
            for v in self.vehicles:
                self.soc_trace.append((v.index, v.t_free, v.soc_kwh))

    def _locate_site(self, site: ChargingSite) -> int:
        try:
            return self.travel.locate(site.lat, site.lon)
        except SnapError:
            log.warning("charging site %s is off the network; not used", site.id)
            return -1

    # ================================================================ helpers
    @property
    def cost(self) -> np.ndarray:
        """The route-cost matrix of the pool (time or distance)."""
        return self.pool.tt if self.config.objective == "time" else self.pool.dd

    def _problem(self) -> ProblemData:
        """The pool and the fleet as the solver kernels' problem data (no copies)."""
        p = self.pool
        return problem_data(
            tt=p.tt, cost=self.cost, serv=p.serv, early=p.early, late=p.late, demand=p.demand,
            kind=p.kind, pair=p.pair, maxride=p.maxride, node_request=p.request, cap=self.cap,
            shift_s=self.shift_s, shift_e=self.shift_e, maxdur=self.maxdur,
        )  # fmt: skip

    def _push(self, t: float, kind: int, k: int) -> None:
        v = self.vehicles[k]
        heapq.heappush(self._events, (t, kind, self._seq, k, v.version))
        self._seq += 1

    def _n_committed(self, k: int) -> int:
        """Leading route nodes of vehicle ``k`` that can no longer move (start, on board)."""
        return 1 + self.vehicles[k].n_onboard

    def _plan_nodes(self, k: int) -> np.ndarray:
        return self.routes[k, self._n_committed(k) : self.lens[k] - 1]

    def _onboard_nodes(self, k: int) -> np.ndarray:
        return self.routes[k, 1 : 1 + self.vehicles[k].n_onboard]

    def _ensure_width(self, extra: int) -> None:
        need = int(self.lens.max()) + extra + 2
        if need > self.routes.shape[1]:
            wider = np.zeros((self.routes.shape[0], max(need, 2 * self.routes.shape[1])), np.int64)
            wider[:, : self.routes.shape[1]] = self.routes
            self.routes = wider

    def _accepting(self, v: VehicleState) -> bool:
        return not v.low_battery and self.shift_s[v.index] < self.shift_e[v.index]

    def _budget_m(self, v: VehicleState, soc: float) -> float:
        """Metres the plan may drive from the start (inf without battery)."""
        b = self.fleet.battery
        if b is None:
            return math.inf
        return b.metres(soc - b.reserve * b.capacity_kwh)

    def _soc_at_start(self, v: VehicleState) -> float:
        if v.move is not None and self.fleet.battery is not None:
            i = v.move.heading(self.now)
            return v.move.soc_kwh - self.fleet.battery.kwh(float(v.move.path.metres[i]))
        return v.soc_kwh

    def _route_cost(self, k: int) -> float:
        r = self.routes[k, : self.lens[k]]
        return float(self.cost[r[:-1], r[1:]].sum())

    def total_cost(self) -> float:
        """Cost of every vehicle's remaining route (start, passengers on board, plan)."""
        return float(sum(self._route_cost(k) for k in range(len(self.vehicles))))

    # ================================================================ time
    def _refresh(self, now: float) -> None:
        """Start times and positions of every vehicle at ``now``."""
        self.now = max(self.now, now)
        moved_nodes, moved_locs = [], []
        for v in self.vehicles:
            k = v.index
            if v.move is not None:
                i = v.move.heading(self.now)
                loc = int(v.move.path.locations[i])
                v.t_free = v.move.depart + float(v.move.path.seconds[i])
                if loc != v.loc:
                    v.loc = loc
                    moved_nodes.append(v.start)
                    moved_locs.append(loc)
            t0 = max(self.now, v.t_free, v.shift[0])
            self.shift_s[k] = t0
            for node in self._onboard_nodes(k):
                self.pool.early[node] = t0
                self.pool.late[node] = t0
        if moved_nodes:
            self.pool.move_many(moved_nodes, moved_locs)

    def advance_to(self, t: float) -> None:
        """Execute every vehicle event up to time ``t`` (in time order)."""
        while self._events and self._events[0][0] <= t:
            when, kind, _, k, version = heapq.heappop(self._events)
            v = self.vehicles[k]
            if version != v.version:
                continue
            self.now = max(self.now, when)
            if kind == _DEPART:
                self._depart(k, when)
            elif kind == _MOVE_DONE:
                self._move_done(k, when)
            else:
                self._idle(k, when)
        self.now = max(self.now, t)

    def finish(self, horizon: float = math.inf) -> None:
        """Run every remaining event (vehicles finish their plans)."""
        self.advance_to(horizon)

    # ================================================================ decisions
    def _locate(self, trip: Trip) -> tuple[int, int]:
        o = trip.origin_loc if trip.origin_loc >= 0 else self.travel.locate(*trip.origin)
        d = (
            trip.destination_loc
            if trip.destination_loc >= 0
            else self.travel.locate(*trip.destination)
        )
        return o, d

    def quote(self, trip: Trip, now: float) -> Promise:
        """What the dispatcher would promise for ``trip`` now (changes nothing)."""
        return self._decide(trip, now, commit=False)

    def submit(self, trip: Trip, now: float) -> Promise:
        """Decide on ``trip`` now: accept (and plan it) with a promise, or reject."""
        return self._decide(trip, now, commit=True)

    def try_book(self, trip: Trip, now: float) -> Promise:
        """Quote and book in one decision: plan ``trip`` now, or reject it leaving no trace.

        The same plans as :meth:`submit`, but a rejection keeps no request
        record, so the state after a refusal is the state before it (as after
        :meth:`quote`); the booking API logs only accepted trips.
        """
        n_records = len(self.records)
        before = self._by_id.get(trip.id)
        result = self._decide(trip, now, commit=True)
        if not result.accepted and len(self.records) > n_records:
            self.records.pop()
            if before is None:
                self._by_id.pop(trip.id, None)
            else:
                self._by_id[trip.id] = before
        return result

    def book(self, trip: Trip, now: float, promise: Promise) -> Promise:
        """Plan ``trip`` keeping a promise quoted earlier; rejected if no longer possible."""
        return self._decide(trip, now, commit=True, promise=promise)

    def _reject(self, rec: RequestRecord | None, trip: Trip, reason: str, **kw) -> Promise:
        if rec is not None:
            rec.status = "rejected"
            rec.reason = reason
        return Promise(False, reason, **kw)

    def _decide(
        self, trip: Trip, now: float, *, commit: bool, promise: Promise | None = None
    ) -> Promise:
        self.advance_to(now)
        self._refresh(now)
        rec = None
        if commit:
            if trip.id in self._by_id and self.records[self._by_id[trip.id]].status in (
                "assigned",
                "onboard",
            ):
                raise RequestError(f"request {trip.id} is already planned; cancel it first")
            rec = RequestRecord(index=len(self.records), trip=trip, decided_at=self.now)
            self.records.append(rec)
            self._by_id[trip.id] = rec.index
        seats = int(trip.passengers)
        chairs = int(trip.wheelchairs)
        if rec is not None:
            rec.seats, rec.wheelchairs = seats, chairs
        most = max(v.wheelchairs for v in self.vehicles)
        most_seats = max(v.seats for v in self.vehicles)
        if chairs > most or seats > most_seats:
            return self._reject(
                rec, trip, f"needs {seats} seats and {chairs} wheelchair places; vehicles have "
                f"at most {most_seats} and {most}"
            )  # fmt: skip
        try:
            o, d = self._locate(trip)
        except SnapError as exc:
            return self._reject(rec, trip, f"outside the service area: {exc}")
        direct_s = self.travel.time(o, d)
        direct_m = self.travel.distance(o, d)
        if rec is not None:
            rec.direct_s, rec.direct_m = direct_s, direct_m
        if not math.isfinite(direct_s):
            return self._reject(rec, trip, "no road route between pickup and drop-off")
        r = self.rules
        ep = max(float(trip.earliest_pickup), self.now)
        max_ride = r.max_ride(direct_s) if promise is None else float(promise.max_ride_s)
        late_p = ep + r.max_wait_s if promise is None else float(promise.pickup_latest)
        late_d = late_p + r.boarding_s + max_ride
        if r.honour_latest_arrival and math.isfinite(trip.latest_arrival):
            late_d = min(late_d, float(trip.latest_arrival))
        if promise is not None:
            late_d = min(late_d, float(promise.dropoff_latest))
        if rec is not None:
            rec.max_ride_s = max_ride
        kw = {"direct_s": direct_s, "direct_m": direct_m, "max_ride_s": max_ride}
        if late_p < ep - EPS:
            return self._reject(rec, trip, "the promised pickup window has passed", **kw)
        if ep + r.boarding_s + direct_s > late_d + EPS:
            return self._reject(
                rec, trip, "the latest arrival is earlier than the earliest possible arrival", **kw
            )
        p_id, d_id = self.pool.add([o, d])
        pool = self.pool
        pool.kind[p_id], pool.kind[d_id] = PICKUP, DROPOFF
        pool.pair[p_id], pool.pair[d_id] = d_id, p_id
        pool.demand[p_id] = (seats, chairs, 1)
        pool.demand[d_id] = (-seats, -chairs, -1)
        pool.early[p_id], pool.late[p_id] = ep, late_p
        pool.early[d_id], pool.late[d_id] = 0.0, late_d
        pool.serv[p_id], pool.serv[d_id] = r.boarding_s, r.alighting_s
        pool.maxride[p_id] = pool.maxride[d_id] = max_ride
        if rec is not None:
            pool.request[p_id] = pool.request[d_id] = rec.index
        choice = self._best_vehicle(p_id, d_id, ep, direct_s)
        if choice is None:
            pool.free([p_id, d_id])
            return self._reject(rec, trip, "no vehicle can serve it within the promise rules", **kw)
        k, i, j, pick, drop, added = choice
        v = self.vehicles[k]
        self._ensure_width(2)
        seq = np.empty(self.routes.shape[1] + 2, dtype=np.int64)
        m = self._inserted(k, p_id, d_id, i, j, seq)
        if promise is None and r.pickup_tolerance_s is not None:
            tight_p = min(late_p, max(pick, ep) + r.pickup_tolerance_s)
            tight_d = min(late_d, tight_p + r.boarding_s + max_ride)
            old = (pool.late[p_id], pool.late[d_id])
            pool.late[p_id], pool.late[d_id] = tight_p, tight_d
            ok, times = self._schedule(seq, m, k)
            if ok:
                pick = float(times[i])
                drop = float(times[i + 1] if j == i else times[j + 1])
            else:
                pool.late[p_id], pool.late[d_id] = old
        price = self.config.tariff.price(direct_m, seats + chairs)
        result = Promise(
            True,
            pickup_earliest=ep,
            pickup_latest=float(pool.late[p_id]),
            pickup_eta=pick,
            dropoff_latest=float(pool.late[d_id]),
            dropoff_eta=drop,
            max_ride_s=max_ride,
            direct_s=direct_s,
            direct_m=direct_m,
            vehicle=k,
            price_eur=price,
            added_cost=added,
            extra={"vehicle_id": v.name},
        )
        if not commit:
            pool.free([p_id, d_id])
            return result
        assert rec is not None
        self._apply(k, seq, m)
        rec.status = "assigned"
        rec.promise = result
        rec.vehicle = k
        rec.pickup_stop, rec.dropoff_stop = p_id, d_id
        return result

    def _best_vehicle(self, p: int, d: int, ep: float, direct_s: float, exclude: int = -1):
        """(vehicle, i, j, pickup, drop-off, added cost) of the best insertion, or None.

        ``exclude`` is a vehicle not to consider (the one a request is moved away from).
        """
        cfg = self.config
        if cfg.policy == "nearest-idle":
            ks = [
                v.index
                for v in self.vehicles
                if self._accepting(v)
                and self.lens[v.index] == 2
                and v.mode is not Mode.CHARGING
                and v.index != exclude
            ]
        else:
            ks = [v.index for v in self.vehicles if self._accepting(v) and v.index != exclude]
        if not ks:
            return None
        pool = self.pool
        kidx = np.asarray(ks, dtype=np.int64)
        delta, pi, pj, pick, drop, metres = insertion.evaluate_insertions(
            RouteState(self.routes, self.lens), kidx, p, d, self._problem(), pool.dd
        )
        ok = np.isfinite(delta)
        if not ok.any():
            return None
        with np.errstate(invalid="ignore"):
            wait = np.where(ok, pick - ep, 0.0)
            detour = np.where(ok, drop - pick - self.rules.boarding_s - direct_s, 0.0)
        if cfg.policy != "insertion":
            score = pick.copy()
        else:
            score = delta + cfg.wait_weight * wait + cfg.detour_weight * detour
        score[~ok] = np.inf
        for a in np.lexsort((kidx, score)).tolist():
            if not ok[a]:
                break
            k = int(kidx[a])
            v = self.vehicles[k]
            if metres[a] > self._budget_m(v, self._soc_at_start(v)) + EPS:
                continue
            return k, int(pi[a]), int(pj[a]), float(pick[a]), float(drop[a]), float(delta[a])
        return None

    def _inserted(self, k: int, p: int, d: int, i: int, j: int, out: np.ndarray) -> int:
        return int(build_inserted(self.routes[k], self.lens[k], p, d, i, j, out))

    def _schedule(self, seq: np.ndarray, n: int, k: int) -> tuple[bool, np.ndarray]:
        ok, times = insertion.schedule_route(seq, n, k, self._problem())
        return bool(ok), times

    def _apply(self, k: int, seq: np.ndarray, m: int) -> None:
        """Make ``seq[:m]`` vehicle ``k``'s route (start and passengers on board unchanged)."""
        v = self.vehicles[k]
        if v.move is not None:  # divert a repositioning vehicle at its next node
            self._end_move(v, self.now, interrupted=True)
        self.routes[k, :m] = seq[:m]
        self.lens[k] = m
        if v.mode is not Mode.CHARGING:
            v.mode = Mode.SERVING if m > 2 else Mode.IDLE
        self._replan(k)

    def _replan(self, k: int) -> None:
        """Planned times of vehicle ``k``'s stops and its next departure event."""
        v = self.vehicles[k]
        v.version += 1
        n = int(self.lens[k])
        ok, times = self._schedule(self.routes[k], n, k)
        if ok:
            self.pool.planned[self.routes[k, :n]] = times
        else:
            self.stats["schedule_misses"] += 1
            log.debug("vehicle %s: keeping the previous schedule", v.name)
        plan = self._plan_nodes(k)
        if plan.size:
            first = int(plan[0])
            leave = self.pool.planned[first] - self.pool.tt[v.start, first]
            self._push(max(self.shift_s[k], leave), _DEPART, k)
        elif v.mode is Mode.CHARGING:
            self._push(v.t_free, _MOVE_DONE, k)
        elif v.move is None:
            self._push(max(self.shift_s[k], v.t_free), _IDLE, k)

    # ================================================================ execution
    def _depart(self, k: int, t: float) -> None:
        """Vehicle ``k`` leaves for its next stop, which becomes committed."""
        v = self.vehicles[k]
        pool = self.pool
        m = v.n_onboard
        c = int(self.routes[k, 1 + m])
        t = max(t, v.t_free)
        arrive = t + pool.tt[v.start, c]
        planned = pool.planned[c] if math.isfinite(pool.planned[c]) else arrive
        service = max(arrive, pool.early[c], planned)
        v.mode = Mode.SERVING
        if service > pool.late[c] + 1e-3:  # pragma: no cover - guarded by the schedule
            log.error(
                "vehicle %s reaches stop %d at %.0f after its window %.0f", v.name, c, service,
                pool.late[c],
            )  # fmt: skip
        metres = float(pool.dd[v.start, c])
        onboard = self._onboard_nodes(k)
        persons = int(pool.demand[onboard, :2].sum()) if onboard.size else 0
        self._log_leg(
            LegRecord(k, "service", v.loc, int(pool.loc[c]), t, arrive, metres, persons, m)
        )
        self._drive(v, metres, arrive)
        rec = self.records[int(pool.request[c])]
        depart = service + pool.serv[c]
        self.commits.append((k, t, rec.index, int(pool.kind[c])))
        self._log_stop(
            StopRecord(
                k,
                rec.index,
                "pickup" if pool.kind[c] == PICKUP else "dropoff",
                int(pool.loc[c]),
                arrive,
                service,
                depart,
                rec.seats,
                rec.wheelchairs,
            )
        )
        pool.move(v.start, int(pool.loc[c]))
        if pool.kind[c] == PICKUP:
            rec.status = "onboard"
            rec.dispatched_at = t
            rec.pickup_time = service
            rec.pickup_depart = depart
            d = int(pool.pair[c])
            pool.late[d] = min(pool.late[d], depart + pool.maxride[c])
            pool.maxride[c] = pool.maxride[d] = np.inf
            pool.serv[c] = 0.0  # boarding is over: the pinned node takes no time
            v.n_onboard += 1
            nodes_to_free: list[int] = []
        else:
            rec.status = "done"
            rec.dropoff_time = service
            pick = int(pool.pair[c])
            row = self.routes[k, : self.lens[k]]
            keep = row[(row != pick) & (row != c)]
            self.routes[k, : keep.size] = keep
            self.lens[k] = keep.size
            v.n_onboard -= 1
            nodes_to_free = [pick, c]
        v.loc = int(pool.loc[c])
        v.t_free = depart
        if nodes_to_free:
            pool.free(nodes_to_free)
        for node in self._onboard_nodes(k):
            pool.move(int(node), v.loc)
        self.shift_s[k] = max(self.now, v.t_free)
        for node in self._onboard_nodes(k):
            pool.early[node] = pool.late[node] = self.shift_s[k]
        if self.lens[k] == 2 and v.mode is Mode.SERVING:
            v.mode = Mode.IDLE
        self._replan(k)

    def _log_leg(self, leg: LegRecord) -> None:
        self.legs.append(leg)
        self.history.append((leg.vehicle, "leg", len(self.legs) - 1))

    def _log_stop(self, stop: StopRecord) -> None:
        self.stops.append(stop)
        self.history.append((stop.vehicle, "stop", len(self.stops) - 1))

    def _drive(self, v: VehicleState, metres: float, when: float) -> None:
        b = self.fleet.battery
        if b is None:
            return
        v.soc_kwh -= b.kwh(metres)
        self.soc_trace.append((v.index, when, v.soc_kwh))
        if v.soc_kwh < b.charge_below * b.capacity_kwh:
            v.low_battery = True

    def _idle(self, k: int, t: float) -> None:
        """Vehicle ``k`` has nothing to do from ``t``: charge if the battery is low."""
        v = self.vehicles[k]
        if self.lens[k] > 2 or v.move is not None:
            return
        v.mode = Mode.IDLE
        if v.low_battery and self.charging is not None:
            self._send_to_charge(k, max(t, v.t_free))

    def _send_to_charge(self, k: int, t: float) -> None:
        v = self.vehicles[k]
        ch = self.charging
        assert ch is not None
        sec, met = self.travel.matrix([v.loc], ch.locations)
        pick = ch.choose(t, v.soc_kwh, sec[0], met[0])
        if pick is None:
            log.warning("vehicle %s: no charger reachable on %.1f kWh", v.name, v.soc_kwh)
            return
        s, point, arrive, start, end = pick
        site_loc = int(ch.locations[s])
        metres = float(met[0, s])
        self._log_leg(LegRecord(k, "charge", v.loc, site_loc, t, arrive, metres, 0, 0))
        self._drive(v, metres, arrive)
        before = v.soc_kwh
        b = self.fleet.battery
        assert b is not None
        v.soc_kwh = max(before, b.charge_to * b.capacity_kwh)
        ch.book(s, point, end)
        self.charges.append(ChargeRecord(k, s, site_loc, arrive, start, end, before, v.soc_kwh))
        self.history.append((k, "charge", len(self.charges) - 1))
        self.soc_trace.append((k, end, v.soc_kwh))
        v.low_battery = False
        v.loc = site_loc
        v.t_free = end
        v.mode = Mode.CHARGING
        v.version += 1
        self.pool.move(v.start, site_loc)
        self.shift_s[k] = max(self.now, end)
        self._push(end, _MOVE_DONE, k)

    def _move_done(self, k: int, t: float) -> None:
        v = self.vehicles[k]
        if v.move is not None:
            self._end_move(v, t, interrupted=False)
        if v.mode is Mode.CHARGING:
            v.mode = Mode.SERVING if self.lens[k] > 2 else Mode.IDLE
        if self.lens[k] == 2:
            v.mode = Mode.IDLE
            self._push(max(t, v.t_free), _IDLE, k)

    def _end_move(self, v: VehicleState, t: float, *, interrupted: bool) -> None:
        mv = v.move
        assert mv is not None
        i = mv.heading(t) if interrupted else mv.path.locations.shape[0] - 1
        loc = int(mv.path.locations[i])
        metres = float(mv.path.metres[i])
        arrive = mv.depart + float(mv.path.seconds[i])
        if i > 0:
            self._log_leg(
                LegRecord(
                    v.index, "reposition", int(mv.path.locations[0]), loc, mv.depart, arrive,
                    metres, 0, 0,
                )
            )  # fmt: skip
        v.soc_kwh = mv.soc_kwh
        self._drive(v, metres, arrive)
        v.move = None
        v.loc = loc
        v.t_free = arrive
        self.pool.move(v.start, loc)
        v.mode = Mode.IDLE

    # ================================================================ rebalancing
    def idle_vehicles(self, now: float) -> list[tuple[int, int]]:
        """(vehicle, location) of vehicles free now with nothing planned."""
        out = []
        for v in self.vehicles:
            if (
                v.mode is Mode.IDLE
                and self.lens[v.index] == 2
                and v.move is None
                and v.t_free <= now
                and not v.low_battery
                and v.shift[0] <= now < v.shift[1]
            ):
                out.append((v.index, v.loc))
        return out

    def reposition(self, k: int, target: int, now: float) -> bool:
        """Send idle vehicle ``k`` toward ``target`` (divertible); False if not possible."""
        self.advance_to(now)
        v = self.vehicles[k]
        if self.lens[k] != 2 or v.move is not None or v.mode is not Mode.IDLE or target == v.loc:
            return False
        path = self.travel.path(v.loc, target)
        b = self.fleet.battery
        if (
            b is not None
            and b.kwh(float(path.metres[-1])) > v.soc_kwh - b.charge_below * b.capacity_kwh
        ):
            return False
        v.move = Move(path, max(now, v.t_free), v.soc_kwh)
        v.mode = Mode.REPOSITIONING
        v.version += 1
        self._push(v.move.arrival, _MOVE_DONE, k)
        self.stats["repositionings"] += 1
        return True

    # ================================================================ cancellation
    def cancel(self, request_id: str, now: float) -> bool:
        """Cancel a planned request that is not on board; False when unknown or finished."""
        self.advance_to(now)
        idx = self._by_id.get(request_id)
        if idx is None:
            return False
        rec = self.records[idx]
        if rec.status == "onboard":
            raise RequestError(
                f"request {request_id} is already on board (or its vehicle is on the way to "
                "pick it up) and cannot be cancelled"
            )
        if rec.status != "assigned":
            return False
        k = rec.vehicle
        row = self.routes[k, : self.lens[k]]
        keep = row[(row != rec.pickup_stop) & (row != rec.dropoff_stop)]
        self.routes[k, : keep.size] = keep
        self.lens[k] = keep.size
        self.pool.free([rec.pickup_stop, rec.dropoff_stop])
        rec.status = "cancelled"
        self._refresh(now)
        self._replan(k)
        return True

    # ================================================================ re-optimisation
    def route_plan(self) -> RoutePlan:
        """A copy of the routes of the vehicles that accept work now (see :class:`RoutePlan`).

        Returns
        -------
        RoutePlan
        """
        accepting = [v for v in self.vehicles if self._accepting(v)]
        ks = [v.index for v in accepting]
        kidx = np.asarray(ks, dtype=np.int64)
        budget = [self._budget_m(v, self._soc_at_start(v)) for v in accepting]
        return RoutePlan(
            vehicles=kidx,
            routes=self.routes[kidx].copy(),
            lens=self.lens[kidx].copy(),
            committed=np.array([self._n_committed(k) for k in ks], dtype=np.int64),
            cap=self.cap[kidx].copy(),
            shift_s=self.shift_s[kidx].copy(),
            shift_e=self.shift_e[kidx].copy(),
            maxdur=self.maxdur[kidx].copy(),
            energy_budget_m=np.array(budget, dtype=np.float64),
        )

    def adopt(self, plan: RoutePlan) -> int:
        """Make the changed rows of ``plan`` the vehicles' routes.

        Parameters
        ----------
        plan : RoutePlan
            A plan derived from :meth:`route_plan` at the current time, with every
            row's committed nodes unchanged.

        Returns
        -------
        int
            Requests now planned on another vehicle.
        """
        current = self.route_plan()
        if not np.array_equal(current.vehicles, plan.vehicles):
            raise ValueError("the plan is not of the vehicles that accept work now")
        changed = current.changed_rows(plan)
        if not changed:
            return 0
        pool = self.pool
        moved = 0
        self._ensure_width(max(0, int(plan.lens.max()) - int(self.lens.max())))
        for a in changed:
            k = int(plan.vehicles[a])
            n = int(plan.lens[a])
            m = int(plan.committed[a])
            if not np.array_equal(plan.routes[a, :m], self.routes[k, :m]):
                raise ValueError(f"vehicle {self.vehicles[k].name}: its committed stops moved")
            for node in plan.routes[a, m : n - 1]:
                if pool.kind[node] == PICKUP:
                    rec = self.records[int(pool.request[node])]
                    if rec.vehicle != k:
                        rec.vehicle = k
                        moved += 1
            self._apply(k, plan.routes[a], n)
        return moved

    def reoptimise(self, now: float) -> dict[str, float]:
        """Improve the not-yet-started parts of all plans, keeping every promise.

        See :func:`fleet.online.reoptimise.improve`.

        Returns
        -------
        dict
            ``cost_before``, ``cost_after``, ``moved`` (requests now on another
            vehicle), ``requests`` (open requests considered).
        """
        self.advance_to(now)
        self._refresh(now)
        cfg = self.config
        cost = self.total_cost()
        stats = {"cost_before": cost, "cost_after": cost, "moved": 0.0, "requests": 0.0}
        plan = self.route_plan()
        if plan.size == 0 or cfg.policy != "insertion":
            return stats
        better, requests = improve(
            plan,
            self.pool,
            self.cost,
            horizon=self.now + cfg.reoptimise_horizon_s,
            iterations=cfg.reoptimise_iterations,
            max_remove=cfg.max_remove,
            rng=self.rng,
        )
        stats["requests"] = float(requests)
        if requests == 0:
            return stats
        stats["moved"] = float(self.adopt(better))
        stats["cost_after"] = self.total_cost()
        self.stats["reoptimisations"] += 1
        self.stats["reoptimise_moves"] += int(stats["moved"])
        log.debug(
            "re-optimised %d open requests: cost %.1f -> %.1f, %d moved",
            requests, stats["cost_before"], stats["cost_after"], stats["moved"],
        )  # fmt: skip
        return stats

    # ================================================================ views
    def vehicle_snapshot(self, k: int) -> dict[str, Any]:
        """Committed part of vehicle ``k``: start location, free time, passengers on board."""
        v = self.vehicles[k]
        onboard = [int(self.pool.request[n]) for n in self._onboard_nodes(k)]
        plan = [(int(self.pool.request[n]), int(self.pool.kind[n])) for n in self._plan_nodes(k)]
        return {"loc": v.loc, "t_free": v.t_free, "onboard": onboard, "plan": plan}

    def vehicles_view(self) -> list[dict[str, Any]]:
        """Every vehicle with its position, load and planned stops (for the API and maps)."""
        out = []
        pool = self.pool
        for v in self.vehicles:
            k = v.index
            lat, lon = self.travel.coords(v.loc)
            stops = [
                {
                    "request": self.records[int(pool.request[n])].trip.id,  # type: ignore[attr-defined]
                    "kind": "pickup" if pool.kind[n] == PICKUP else "dropoff",
                    "lat": self.travel.coords(int(pool.loc[n]))[0],
                    "lon": self.travel.coords(int(pool.loc[n]))[1],
                    "eta": float(pool.planned[n]),
                }
                for n in self._plan_nodes(k)
            ]
            onboard = self._onboard_nodes(k)
            out.append(
                {
                    "id": v.name,
                    "lat": lat,
                    "lon": lon,
                    "capacity": v.seats,
                    "wheelchair_places": v.wheelchairs,
                    "onboard": int(pool.demand[onboard, :2].sum()) if onboard.size else 0,
                    "mode": v.mode.value,
                    "free_at": v.t_free,
                    "soc_kwh": None if math.isinf(v.soc_kwh) else round(v.soc_kwh, 2),
                    "stops": stops,
                }
            )
        return out

    def request(self, request_id: str) -> RequestRecord | None:
        """The record of a request by its id."""
        idx = self._by_id.get(request_id)
        return None if idx is None else self.records[idx]
