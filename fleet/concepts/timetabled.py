"""Riders on a timetabled feeder line, fixed or flex, driven vehicle by vehicle.

Riders are taken in request order. Each walks to the line stop with the
shortest walk from its origin and from the one with the shortest walk to its
destination (at most ``walk_m``; walks as in :mod:`fleet.concepts.walking`); on a
flex route a rider who would walk more than ``door_walk_m`` but lives within
``corridor_m`` (crow-fly) of a stop is picked up or dropped at the door instead, when
the detour fits the timetable slack of one segment. The rider takes the
earliest trip that has room on every segment it rides (seats and wheelchair
places), in the direction of its destination (out from the hub, or back towards
it; never through an end). As on the on-demand services, every rider who can be carried
rides (the door-to-door time against walking is a KPI, not a choice).

Then every vehicle drives its trips: legs between stops (and door points) on
the road model, alighting before boarding at every stop, one rider after
the other, and a hold until the scheduled departure. The output has the
dispatcher's table layout (legs, stops, history, promises), so
:func:`fleet.simulation.audit.audit` re-drives it like any simulated day:
a rider's promise is its scheduled pickup and arrival plus ``tolerance_s``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fleet.concepts.line import LineTimetable
from fleet.concepts.walking import WALK_MPS, CrowFlyWalks, WalkModel
from fleet.online.promises import Trip
from routing.geo import haversine_m


@dataclass(frozen=True, kw_only=True)
class LineRules:
    """How riders and vehicles use the line.

    Attributes
    ----------
    capacity, wheelchair_places : int
        Seats and wheelchair places per vehicle.
    walk_m : float
        Longest walk to or from a stop.
    walks : WalkModel
        How walks are measured (routed on the walk network, or crow-fly x
        circuity without a map).
    walk_mps : float
    flex : bool
        Door pickups/drop-offs for riders who would walk more than ``door_walk_m``
        and live within ``corridor_m`` (crow-fly) of a stop.
    corridor_m, door_walk_m : float
    boarding_s, alighting_s : float
        Per rider (level boarding at a marked stop; the dwell allowance covers a few).
    tolerance_s : float
        Lateness against the timetable still within the promise.
    max_trips_ahead : int
        Trips tried after the first one a rider can catch.
    """

    capacity: int = 8
    wheelchair_places: int = 1
    walk_m: float = 400.0
    walks: WalkModel = field(default_factory=CrowFlyWalks)
    walk_mps: float = WALK_MPS
    flex: bool = False
    corridor_m: float = 800.0
    door_walk_m: float = 300.0
    boarding_s: float = 5.0
    alighting_s: float = 5.0
    tolerance_s: float = 300.0
    max_trips_ahead: int = 6


@dataclass
class _Visit:
    """A door point inserted into a segment of a flex trip."""

    loc: int
    rider: int
    kind: str  # "pickup" | "dropoff"


@dataclass
class LineOutcome:
    """What happened: per-rider plan and the driven tables (dispatcher layout)."""

    riders: pd.DataFrame
    requests: pd.DataFrame
    legs: pd.DataFrame
    stops: pd.DataFrame
    history: list[tuple[int, str, int]] = field(default_factory=list)
    depots: list[int] = field(default_factory=list)


def simulate_line(
    trips: list[Trip], timetable: LineTimetable, travel, rules: LineRules
) -> LineOutcome:
    """Assign riders to trips, then drive every vehicle (see module docstring)."""
    line = timetable.line
    n = line.n_segments  # positions 0 .. n of a round
    n_trips = timetable.n_trips
    arr_off, dep_off = line.offsets()
    t0 = timetable.departures
    sched_run = line.sched_run_s
    seats_load = np.zeros((n_trips, n), dtype=np.int64)  # per trip and segment p -> p+1
    chair_load = np.zeros((n_trips, n), dtype=np.int64)
    chain: dict[tuple[int, int], list[_Visit]] = {}
    chain_time: dict[tuple[int, int], float] = {}
    at_stop: dict[tuple[int, int], list[tuple[str, int]]] = {}  # (trip, pos) -> events
    rows = []
    o_lat = np.array([t.origin[0] for t in trips])
    o_lon = np.array([t.origin[1] for t in trips])
    d_lat = np.array([t.destination[0] for t in trips])
    d_lon = np.array([t.destination[1] for t in trips])
    stop_lat, stop_lon = line.lat, line.lon
    walk_o = rules.walks.matrix(o_lat, o_lon, stop_lat, stop_lon)
    walk_d = rules.walks.matrix(d_lat, d_lon, stop_lat, stop_lon)
    direct_walk = rules.walks.pairs(o_lat, o_lon, d_lat, d_lon)
    # the flex corridor is a distance from the line, not a walk
    near_o = haversine_m(o_lat[:, None], o_lon[:, None], stop_lat[None], stop_lon[None]).min(axis=1)
    near_d = haversine_m(d_lat[:, None], d_lon[:, None], stop_lat[None], stop_lon[None]).min(axis=1)

    def seg_range(trip: int, p_from: float, p_to: float) -> list[tuple[int, int]]:
        """Segments (trip, p) a rider occupies from position p_from to p_to (x.5 = door)."""
        return [(trip, p) for p in range(math.floor(p_from), math.ceil(p_to))]

    def positions(stop: int) -> list[int]:
        """Positions of a round serving ``stop`` (outbound first)."""
        return sorted({stop, n - stop})

    def fits(segs, seats: int, chairs: int) -> bool:
        return all(
            seats_load[j, p] + seats <= rules.capacity
            and chair_load[j, p] + chairs <= rules.wheelchair_places
            for j, p in segs
        )

    def chain_cost(j: int, p: int, extra: list[_Visit]) -> float:
        """Driving + service time through the segment's door points (and ``extra`` appended)."""
        visits = chain.get((j, p), []) + extra
        here = line.position_loc(p)
        total = 0.0
        for v in visits:
            total += travel.time(here, v.loc)
            total += rules.boarding_s if v.kind == "pickup" else rules.alighting_s
            here = v.loc
        return total + travel.time(here, line.position_loc(p + 1))

    def door_offset(j: int, p: int, extra: list[_Visit]) -> float:
        """Time from leaving stop p to reaching the last door point of ``extra``."""
        visits = chain.get((j, p), []) + extra
        here = line.position_loc(p)
        total = 0.0
        for i, v in enumerate(visits):
            total += travel.time(here, v.loc)
            if i < len(visits) - 1:
                total += rules.boarding_s if v.kind == "pickup" else rules.alighting_s
            here = v.loc
        return total

    for r, trip in enumerate(trips):
        seats, chairs = trip.passengers, trip.wheelchairs
        so = int(np.argmin(walk_o[r]))
        sd = int(np.argmin(walk_d[r]))
        wo, wd = float(walk_o[r, so]), float(walk_d[r, sd])
        walk_all_s = float(direct_walk[r]) / rules.walk_mps
        # flex: door service first; a rider it cannot fit walks to a stop when close enough
        door_o0 = rules.flex and wo > rules.door_walk_m and near_o[r] <= rules.corridor_m
        door_d0 = rules.flex and wd > rules.door_walk_m and near_d[r] <= rules.corridor_m
        attempts = [(door_o0, door_d0)]
        if (door_o0 or door_d0) and max(wo, wd) <= rules.walk_m:
            attempts.append((False, False))
        for door_o, door_d in attempts:
            row = {
                "request_id": trip.id,
                "rider": r,
                "persons": seats + chairs,
                "earliest": trip.earliest_pickup,
                "status": "unserved",
                "reason": "",
                "access_walk_m": 0.0 if door_o else wo,
                "egress_walk_m": 0.0 if door_d else wd,
                "walk_only_s": walk_all_s,
                "door_pickup": door_o,
                "door_dropoff": door_d,
            }
            if (wo > rules.walk_m and not door_o) or (wd > rules.walk_m and not door_d):
                row["reason"] = "farther than the walk (and corridor) from the line"
                continue
            if not door_o and not door_d and so == sd:
                row["status"], row["reason"] = "walk", "same stop for origin and destination"
                continue
            ready = trip.earliest_pickup + (0.0 if door_o else wo / rules.walk_mps)
            # (trip, start, end, segments, pickup, drop-off, door visits)
            best: tuple[Any, ...] | None = None
            # door points: the segment with the smallest detour (through the road matrix)
            o_loc = trip.origin_loc if door_o else -1
            d_loc = trip.destination_loc if door_d else -1
            if (door_o and o_loc < 0) or (door_d and d_loc < 0):
                row["reason"] = "door not on the network"
                continue
            # stop to stop: the direction towards the destination
            p_o, p_d = line.ride(so, sd) if not door_o and not door_d else (math.nan, math.nan)
            # the first round the rider can still catch: a door pickup can fall in any
            # segment (the round still running), a stop is served at its position in the
            # rider's direction (a flex rider to a door may board at either: the later one)
            if door_o:
                first_times = t0 + arr_off[n]
            else:
                first_times = t0 + dep_off[int(p_o) if not door_d else max(positions(so))]
            first = int(np.searchsorted(first_times, ready - 1e-9))
            # one pass with the placeholder -1 (never read) where that end is a stop, not a door
            cands_o: list[int] = _best_segments(travel, line, o_loc) if door_o else [-1]
            cands_d: list[int] = _best_segments(travel, line, d_loc) if door_d else [-1]
            for j in range(first, min(first + rules.max_trips_ahead, n_trips)):
                arr_j = t0[j] + arr_off
                dep_j = t0[j] + dep_off
                if not door_o and not door_d:
                    if ready > dep_j[p_o]:
                        continue
                    segs = seg_range(j, p_o, p_d)
                    if not fits(segs, seats, chairs):
                        continue
                    best = (j, p_o, p_d, segs, dep_j[p_o], arr_j[p_d], None)
                    break
                # a flex rider: try every segment pair in order of detour
                found: tuple[Any, ...] | None = None
                for po in cands_o:
                    for pd_ in cands_d:
                        if door_o and door_d:
                            start, end = po + 0.5, pd_ + 0.5
                        elif door_o:  # alight at the destination stop's next position
                            later = [q for q in positions(sd) if q > po]
                            start, end = po + 0.5, (later[0] if later else -1.0)
                        else:  # board at the origin stop's last position before the door
                            earlier = [q for q in positions(so) if q <= pd_]
                            start, end = (earlier[-1] if earlier else n + 1.0), pd_ + 0.5
                            if start <= n and ready > dep_j[int(start)]:
                                continue
                        if end < start:
                            continue
                        segs = seg_range(j, start, end)
                        if not segs or not fits(segs, seats, chairs):
                            continue
                        ok = True
                        add: dict[tuple[int, int], list[_Visit]] = {}
                        if door_o:
                            add.setdefault((j, po), []).append(_Visit(o_loc, r, "pickup"))
                        if door_d:
                            add.setdefault((j, pd_), []).append(_Visit(d_loc, r, "dropoff"))
                        for (jj, pp), extra in add.items():
                            if chain_cost(jj, pp, extra) > sched_run[pp] + 1e-9:
                                ok = False
                                break
                        if not ok:
                            continue
                        if door_o:
                            pick_t = dep_j[po] + door_offset(j, po, add[(j, po)][:1])
                            if trip.earliest_pickup > pick_t:
                                continue
                        else:
                            pick_t = dep_j[int(start)]
                        if door_d:
                            drop_t = dep_j[pd_] + door_offset(j, pd_, add[(j, pd_)])
                        else:
                            drop_t = arr_j[int(end)]
                        if found is None or drop_t < found[5]:
                            found = (j, start, end, segs, pick_t, drop_t, add)
                if found is not None:
                    best = found
                    break
            if best is None:
                row["reason"] = "no trip with room within the next trips"
                continue
            j, start, end, segs, pick_t, drop_t, add = best
            for jj, pp in segs:
                seats_load[jj, pp] += seats
                chair_load[jj, pp] += chairs
            if add:
                for key, extra in add.items():
                    chain.setdefault(key, []).extend(extra)
                    chain_time[key] = chain_cost(key[0], key[1], [])
            if not door_o:
                at_stop.setdefault((j, int(start)), []).append(("pickup", r))
            if not door_d:
                at_stop.setdefault((j, int(end)), []).append(("dropoff", r))
            row.update(
                status="assigned",
                trip=j,
                planned_pickup=pick_t,
                planned_dropoff=drop_t,
                ready=ready,
            )
            rows.append(row)
            break
        else:
            rows.append(row)  # no attempt found a trip: the last reason stands

    riders = pd.DataFrame(rows)
    return _drive(trips, riders, timetable, travel, rules, chain, at_stop)


def _best_segments(travel, line, loc: int, k: int = 3) -> list[int]:
    """The ``k`` segments whose detour through ``loc`` is smallest (on the road matrix)."""
    to_x, _ = travel.matrix(line.loc[:-1], [loc])
    from_x, _ = travel.matrix([loc], line.loc[1:])
    detour = to_x[:, 0] + from_x[0] - line.run_s
    return [int(p) for p in np.argsort(detour, kind="stable")[:k]]


class _Driver:
    """Drives one vehicle and appends to the shared tables (the dispatcher's layout)."""

    def __init__(self, out: _Tables, v: int, start: int, trips, ready, rules: LineRules) -> None:
        self.out, self.v, self.pos, self.clock = out, v, start, 0.0
        self.trips, self.ready, self.rules = trips, ready, rules
        self.onboard: dict[int, int] = {}

    def drive_to(self, loc: int, travel) -> None:
        if loc == self.pos:
            return
        sec = travel.time(self.pos, loc)
        self.out.legs.append(
            {
                "vehicle": self.v, "kind": "service", "origin": self.pos, "destination": loc,
                "depart": self.clock, "arrive": self.clock + sec,
                "metres": travel.distance(self.pos, loc),
                "persons": sum(self.onboard.values()), "requests": len(self.onboard),
            }
        )  # fmt: skip
        self.out.history.append((self.v, "leg", len(self.out.legs) - 1))
        self.pos, self.clock = loc, self.clock + sec

    def serve(self, kind: str, r: int) -> None:
        t = self.trips[r]
        start = self.clock
        if kind == "pickup":
            start = max(self.clock, float(self.ready[r]))
            self.onboard[r] = t.passengers + t.wheelchairs
            self.out.pick[r] = (self.v, start, start + self.rules.boarding_s)
            dur = self.rules.boarding_s
        else:
            self.onboard.pop(r, None)
            self.out.drop[r] = (self.v, start)
            dur = self.rules.alighting_s
        self.out.stops.append(
            {
                "vehicle": self.v, "request": r, "kind": kind, "loc": self.pos,
                "arrive": self.clock, "service_start": start, "depart": start + dur,
                "seats": t.passengers, "wheelchairs": t.wheelchairs,
            }
        )  # fmt: skip
        self.out.history.append((self.v, "stop", len(self.out.stops) - 1))
        self.clock = start + dur


@dataclass
class _Tables:
    legs: list[dict] = field(default_factory=list)
    stops: list[dict] = field(default_factory=list)
    history: list[tuple[int, str, int]] = field(default_factory=list)
    pick: dict[int, tuple[int, float, float]] = field(default_factory=dict)
    drop: dict[int, tuple[int, float]] = field(default_factory=dict)


LEG_COLUMNS = (
    "vehicle", "kind", "origin", "destination", "depart", "arrive", "metres", "persons", "requests",
)  # fmt: skip


def _drive(trips, riders, timetable, travel, rules, chain, at_stop) -> LineOutcome:
    """Drive every vehicle through its trips and record legs, stops and history."""
    line = timetable.line
    n = line.n_segments
    out = _Tables()
    ready = {int(x.rider): float(getattr(x, "ready", math.nan)) for x in riders.itertuples()}
    hub = line.position_loc(0)
    for v in range(timetable.n_vehicles):
        car = _Driver(out, v, hub, trips, ready, rules)
        for j in range(v, timetable.n_trips, timetable.n_vehicles):
            _, dep = timetable.times(j)
            for p in range(n + 1):
                car.drive_to(line.position_loc(p), travel)
                events = at_stop.get((j, p), [])
                for _, r in (e for e in events if e[0] == "dropoff"):
                    car.serve("dropoff", r)
                ups = sorted((e[1] for e in events if e[0] == "pickup"), key=lambda r: ready[r])
                if p < n and ups:  # board just before the departure, not during the layover
                    car.clock = max(car.clock, float(dep[p]) - rules.boarding_s * len(ups))
                for r in ups:
                    car.serve("pickup", r)
                if p == n:
                    break
                car.clock = max(car.clock, float(dep[p]))
                for visit in chain.get((j, p), []):
                    car.drive_to(visit.loc, travel)
                    car.serve(visit.kind, visit.rider)
    # the dispatcher's request table with the promises the audit checks
    req_rows = []
    tol = rules.tolerance_s
    for x in riders.itertuples():
        r = int(x.rider)
        t = trips[r]
        served = r in out.pick and r in out.drop
        pl_p = float(getattr(x, "planned_pickup", math.nan))
        pl_d = float(getattr(x, "planned_dropoff", math.nan))
        req_rows.append(
            {
                "request_id": t.id,
                "record": r if served else -1,
                "status": "done" if served else str(x.status),
                "vehicle": out.pick[r][0] if served else -1,
                "passengers": t.passengers,
                "wheelchairs": t.wheelchairs,
                "request_time": t.request_time,
                "earliest_pickup": t.earliest_pickup,
                "promised_pickup_earliest": ready[r],
                "promised_pickup_latest": pl_p + tol,
                "promised_dropoff_latest": pl_d + tol,
                "max_ride_s": (pl_d - pl_p) + 2 * tol,
                "pickup_time": out.pick[r][1] if served else math.nan,
                "pickup_depart": out.pick[r][2] if served else math.nan,
                "dropoff_time": out.drop[r][1] if served else math.nan,
            }
        )
    return LineOutcome(
        riders=riders,
        requests=pd.DataFrame(req_rows),
        legs=pd.DataFrame(out.legs, columns=list(LEG_COLUMNS)),
        stops=pd.DataFrame(out.stops),
        history=out.history,
        depots=[hub] * timetable.n_vehicles,
    )
