"""Turn raw RAPTOR output into journeys (stop level) and journeys into itinerary legs.

A :class:`Journey` lists its rides with boarding/alighting stops and times
taken from the timetable (not from labels), the walks between them, and the
access/egress walks. :func:`pareto_journeys` keeps the journeys no other one
beats in departure (later), arrival (earlier) and transfers (fewer).
:func:`journey_legs` builds the :class:`Leg` objects; walking geometry comes
from a callback so the door-to-door planner can draw walks on the walk graph
while tests draw straight lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from routing.geo import polyline_length_m
from routing.transit.itinerary import Leg, Place, StopCall
from routing.transit.raptor import (
    J_ACCESS,
    J_DEPARTURE,
    J_END_WALK_FROM,
    J_ROUNDS,
    J_TARGET,
    R_APOS,
    R_BPOS,
    R_PRE_WALK_FROM,
    R_SLOT,
    Footpaths,
)
from routing.transit.timetable import Timetable


@dataclass(frozen=True)
class Ride:
    """One ride of a journey (positions index the stops of the trip's route)."""

    slot: int
    board_pos: int
    alight_pos: int
    board_stop: int
    alight_stop: int
    departure: int
    arrival: int
    walk_before: tuple[int, int, int] | None = None
    """(from stop, to stop, seconds) walked just before boarding, if any."""


@dataclass(frozen=True)
class Journey:
    """A stop-level journey: access walk, rides with transfer walks, egress walk.

    Times are timetable seconds. ``departure`` is when the traveller leaves the
    origin (as late as the first ride allows), ``arrival`` when they reach the
    destination (egress included).
    """

    departure: int
    arrival: int
    rides: tuple[Ride, ...]
    access_stop: int
    access_s: int
    egress_stop: int
    egress_s: int
    walk_after: tuple[int, int, int] | None = None
    """(from stop, to stop, seconds) walked after the last ride to the egress stop."""
    run_departure: int = field(default=0, compare=False)

    @property
    def transfers(self) -> int:
        """Number of changes (rides - 1)."""
        return max(0, len(self.rides) - 1)

    @property
    def duration_s(self) -> int:
        """Door-to-door seconds."""
        return self.arrival - self.departure


def decode_journeys(
    tt: Timetable,
    fp: Footpaths,
    info: np.ndarray,
    rides: np.ndarray,
    access: dict[int, int],
    egress: dict[int, int],
) -> list[Journey]:
    """Build :class:`Journey` objects from :func:`~routing.transit.raptor.raptor_kernel` output."""
    out = []
    for row, ride_rows in zip(info, rides, strict=True):
        n = int(row[J_ROUNDS])
        if n == 0:
            continue
        decoded: list[Ride] = []
        for x in range(n):
            slot, bpos, apos, pre = (
                int(v) for v in ride_rows[x, [R_SLOT, R_BPOS, R_APOS, R_PRE_WALK_FROM]]
            )
            stops, arr, dep = tt.slot_times(slot)
            board, alight = int(stops[bpos]), int(stops[apos])
            walk = None
            if pre >= 0:
                walk = (pre, board, fp.duration_between(pre, board))
            decoded.append(
                Ride(slot, bpos, apos, board, alight, int(dep[bpos]), int(arr[apos]), walk)
            )
        access_stop = int(row[J_ACCESS])
        target = int(row[J_TARGET])
        end_from = int(row[J_END_WALK_FROM])
        walk_after = None
        if end_from >= 0:
            walk_after = (end_from, target, fp.duration_between(end_from, target))
        first = decoded[0]
        pre_s = first.walk_before[2] if first.walk_before else 0
        leave = first.departure - pre_s - access[access_stop]
        arrive = decoded[-1].arrival + (walk_after[2] if walk_after else 0) + egress[target]
        out.append(
            Journey(
                departure=int(leave),
                arrival=int(arrive),
                rides=tuple(decoded),
                access_stop=access_stop,
                access_s=int(access[access_stop]),
                egress_stop=target,
                egress_s=int(egress[target]),
                walk_after=walk_after,
                run_departure=int(row[J_DEPARTURE]),
            )
        )
    return out


def pareto_journeys(journeys: list[Journey], *, resolution_s: int = 60) -> list[Journey]:
    """Journeys not dominated in (later departure, earlier arrival, fewer transfers); by departure.

    Departures and arrivals are compared in ``resolution_s`` steps (timetables
    are in minutes; leaving a few seconds later is no reason to show a trip
    with an extra change).
    """

    def key(j: Journey) -> tuple[int, int, int]:
        return (j.departure // resolution_s, -((-j.arrival) // resolution_s), j.transfers)

    keys = [key(j) for j in journeys]
    keep: list[Journey] = []
    seen: set[tuple[int, int, int]] = set()
    for j, kj in zip(journeys, keys, strict=True):
        if kj in seen:
            continue
        dominated = any(
            ko != kj and ko[0] >= kj[0] and ko[1] <= kj[1] and ko[2] <= kj[2] for ko in keys
        )
        if not dominated:
            keep.append(j)
            seen.add(kj)
    keep.sort(key=lambda j: (j.departure, j.arrival, j.transfers))
    return keep


WalkBuilder = Callable[[Place, Place, float], tuple[np.ndarray, np.ndarray, float]]
"""(from, to, seconds) -> (lats, lons, metres) of a walk."""


def straight_walk(a: Place, b: Place, seconds: float) -> tuple[np.ndarray, np.ndarray, float]:
    """A walk drawn as a straight line; distance from the time at walking speed."""
    from routing.transit.footpaths import WALK_SPEED_MPS

    return np.array([a.lat, b.lat]), np.array([a.lon, b.lon]), float(seconds) * WALK_SPEED_MPS


def stop_place(tt: Timetable, s: int) -> Place:
    """The :class:`Place` of stop ``s``."""
    return Place(
        str(tt.stop_names[s]), float(tt.stop_lat[s]), float(tt.stop_lon[s]), str(tt.stop_ids[s])
    )


def ride_geometry(tt: Timetable, ride: Ride) -> tuple[np.ndarray, np.ndarray]:
    """The vehicle's path between boarding and alighting: its shape if given, else stop to stop."""
    stops, _, _ = tt.slot_times(ride.slot)
    seq = stops[ride.board_pos : ride.alight_pos + 1]
    lats, lons = tt.stop_lat[seq], tt.stop_lon[seq]
    shape = int(tt.trip_shape[ride.slot])
    if shape < 0:
        return np.asarray(lats, float), np.asarray(lons, float)
    a, b = int(tt.shape_first[shape]), int(tt.shape_first[shape + 1])
    s_lat, s_lon = tt.shape_lat[a:b], tt.shape_lon[a:b]
    if s_lat.size < 2:
        return np.asarray(lats, float), np.asarray(lons, float)
    # Follow the shape forward: each stop maps to the nearest shape point after the previous one.
    scale = np.cos(np.radians(float(np.mean(s_lat))))
    idx = []
    start = 0
    for la, lo in zip(lats, lons, strict=True):
        d = (s_lat[start:] - la) ** 2 + ((s_lon[start:] - lo) * scale) ** 2
        start = start + int(np.argmin(d))
        idx.append(start)
    i0, i1 = idx[0], idx[-1]
    out_lat = np.concatenate(([lats[0]], s_lat[i0 : i1 + 1], [lats[-1]]))
    out_lon = np.concatenate(([lons[0]], s_lon[i0 : i1 + 1], [lons[-1]]))
    keep = np.ones(out_lat.size, dtype=bool)
    keep[1:] = (np.diff(out_lat) != 0) | (np.diff(out_lon) != 0)
    return out_lat[keep], out_lon[keep]


def ride_leg(tt: Timetable, ride: Ride) -> Leg:
    """The transit :class:`Leg` of a ride, with intermediate stops and geometry."""
    stops, arr, dep = tt.slot_times(ride.slot)
    route = int(tt.trip_gtfs_route[ride.slot])
    lats, lons = ride_geometry(tt, ride)
    calls = [
        StopCall(stop_place(tt, int(stops[j])), tt.to_datetime(arr[j]), tt.to_datetime(dep[j]))
        for j in range(ride.board_pos + 1, ride.alight_pos)
    ]
    return Leg(
        mode=tt.slot_mode(ride.slot),
        from_place=stop_place(tt, ride.board_stop),
        to_place=stop_place(tt, ride.alight_stop),
        start=tt.to_datetime(ride.departure),
        end=tt.to_datetime(ride.arrival),
        distance_m=polyline_length_m(lats, lons),
        lats=lats,
        lons=lons,
        route_id=str(tt.route_ids[route]),
        route_short_name=str(tt.route_short_names[route]),
        route_long_name=str(tt.route_long_names[route]),
        trip_id=str(tt.trip_ids[ride.slot]),
        headsign=str(tt.trip_headsigns[ride.slot]) or None,
        agency_name=str(tt.route_agency[route]),
        intermediate_stops=calls,
    )


def walk_leg(
    tt: Timetable, a: Place, b: Place, start: int, seconds: float, walk: WalkBuilder
) -> Leg:
    """A WALK leg from ``a`` to ``b`` starting at timetable second ``start``."""
    lats, lons, metres = walk(a, b, seconds)
    return Leg(
        "WALK", a, b, tt.to_datetime(start), tt.to_datetime(start + seconds), metres, lats, lons
    )


def journey_legs(
    tt: Timetable,
    journey: Journey,
    origin: Place | None = None,
    destination: Place | None = None,
    walk: WalkBuilder = straight_walk,
) -> list[Leg]:
    """Legs of a journey: access walk, rides with transfer walks, egress walk.

    ``origin``/``destination`` are the door-to-door end points; when ``None``
    (stop-to-stop queries) the journey starts/ends at its stops. Walks of zero
    seconds between identical places are left out.
    """
    legs: list[Leg] = []
    t = journey.departure
    here = origin if origin is not None else stop_place(tt, journey.access_stop)
    # Access walk (to the first access stop) and any footpath before the first ride
    # are one walk for the traveller.
    first = journey.rides[0]
    board_place = stop_place(tt, first.board_stop)
    access_total = journey.access_s + (first.walk_before[2] if first.walk_before else 0)
    if access_total > 0 or (here != board_place and origin is not None):
        legs.append(walk_leg(tt, here, board_place, t, access_total, walk))
    for i, ride in enumerate(journey.rides):
        if i > 0 and ride.walk_before is not None:
            a = stop_place(tt, ride.walk_before[0])
            b = stop_place(tt, ride.walk_before[1])
            start = journey.rides[i - 1].arrival
            legs.append(walk_leg(tt, a, b, start, ride.walk_before[2], walk))
        legs.append(ride_leg(tt, ride))
    last = journey.rides[-1]
    end_here = stop_place(tt, last.alight_stop)
    tail = (journey.walk_after[2] if journey.walk_after else 0) + journey.egress_s
    target = destination if destination is not None else stop_place(tt, journey.egress_stop)
    if tail > 0 or (destination is not None and end_here != target):
        legs.append(walk_leg(tt, end_here, target, last.arrival, tail, walk))
    return legs
