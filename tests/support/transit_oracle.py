"""Slow, obvious reference algorithms for checking the RAPTOR kernels (test support).

Written plainly in Python over the same :class:`Timetable` and footpaths, and
deliberately independent of the RAPTOR data flow:

* :func:`csa_earliest_arrival` - a Connection Scan over every elementary
  connection of the day, sorted by departure (unlimited transfers);
* :func:`rounds_brute_force` - "best arrival with at most k rides" by trying
  every (trip, boarding stop, alighting stop) triple per round;
* :func:`pareto_brute_force` - the above for every candidate departure in a
  window, filtered to the Pareto set over (departure, arrival, rides).

Footpath semantics match RAPTOR: one footpath after a ride or after the access
walk, never two in a row.
"""

from __future__ import annotations

import numpy as np

from routing.transit.raptor import Footpaths
from routing.transit.timetable import Timetable

INF = float("inf")


def connections(tt: Timetable) -> list[tuple[int, int, int, int, int, bool, bool]]:
    """Every elementary connection.

    Each is ``(dep_time, arr_time, from, to, slot, can_board, can_alight)``.
    """
    out = []
    for slot in range(tt.n_trips):
        stops, arr, dep = tt.slot_times(slot)
        base = tt.slot_cell(slot, 0)
        for j in range(len(stops) - 1):
            out.append(
                (
                    int(dep[j]),
                    int(arr[j + 1]),
                    int(stops[j]),
                    int(stops[j + 1]),
                    slot,
                    bool(tt.board[base + j]),
                    bool(tt.alight[base + j + 1]),
                )
            )
    out.sort(key=lambda c: (c[0], c[1]))
    return out


def _walks(fp: Footpaths, stop: int) -> list[tuple[int, int]]:
    lo, hi = int(fp.first[stop]), int(fp.first[stop + 1])
    return [(int(fp.head[e]), int(fp.duration[e])) for e in range(lo, hi)]


def csa_earliest_arrival(
    tt: Timetable,
    fp: Footpaths,
    sources: dict[int, int],
    targets: dict[int, int],
    depart: int,
    conns: list | None = None,
) -> float:
    """Earliest arrival at the destination (incl. egress), or inf.

    ``sources`` maps stop -> access seconds, ``targets`` stop -> egress seconds;
    transfers are unlimited; walking only (one footpath, no ride) counts too.
    """
    conns = conns if conns is not None else connections(tt)
    reach = [INF] * tt.n_stops
    for s, acc in sources.items():
        reach[s] = min(reach[s], depart + acc)
    for s, acc in list(sources.items()):
        for h, d in _walks(fp, s):
            reach[h] = min(reach[h], depart + acc + d)
    ride_reach = [INF] * tt.n_stops  # earliest arrival by a ride: footpaths start from these
    on_trip: set[int] = set()
    for dep, arr, a, b, slot, can_board, can_alight in conns:
        if slot in on_trip or (can_board and reach[a] <= dep):
            on_trip.add(slot)
            if can_alight and arr < ride_reach[b]:
                ride_reach[b] = arr
                reach[b] = min(reach[b], arr)
                for h, d in _walks(fp, b):
                    reach[h] = min(reach[h], arr + d)
    return min((reach[t] + e for t, e in targets.items()), default=INF)


def rounds_brute_force(
    tt: Timetable,
    fp: Footpaths,
    sources: dict[int, int],
    targets: dict[int, int],
    depart: int,
    max_rides: int,
) -> list[float]:
    """Best arrival at the destination with at most k rides, for k = 0..max_rides."""
    trips = [tt.slot_times(s) for s in range(tt.n_trips)]
    cells = [tt.slot_cell(s, 0) for s in range(tt.n_trips)]
    reach = [INF] * tt.n_stops  # best arrival with <= k rides (after the footpath)
    for s, acc in sources.items():
        reach[s] = min(reach[s], depart + acc)
    for s, acc in sources.items():
        for h, d in _walks(fp, s):
            reach[h] = min(reach[h], depart + acc + d)
    result = [min((reach[t] + e for t, e in targets.items()), default=INF)]
    for _ in range(max_rides):
        by_ride = [INF] * tt.n_stops
        for (stops, arr, dep), base in zip(trips, cells, strict=True):
            n = len(stops)
            for i in range(n):
                if not tt.board[base + i] or reach[stops[i]] > dep[i]:
                    continue
                for j in range(i + 1, n):
                    if tt.alight[base + j] and arr[j] < by_ride[stops[j]]:
                        by_ride[stops[j]] = int(arr[j])
                break  # boarding later on the same trip reaches nothing more
        new = list(reach)
        for p in range(tt.n_stops):
            if by_ride[p] < INF:
                new[p] = min(new[p], by_ride[p])
                for h, d in _walks(fp, p):
                    new[h] = min(new[h], by_ride[p] + d)
        reach = new
        result.append(min((reach[t] + e for t, e in targets.items()), default=INF))
    return result


def pareto_brute_force(
    tt: Timetable,
    fp: Footpaths,
    sources: dict[int, int],
    targets: dict[int, int],
    depart: int,
    window_s: int,
    max_rides: int,
) -> set[tuple[int, int, int]]:
    """Pareto set of ``(departure, arrival, rides)`` over all departures in the window.

    Candidate departures are ``depart`` and every trip departure from a source
    minus its access time inside ``[depart, depart + window_s]``; a journey
    found for departure ``d`` counts as departing at ``d``.
    """
    cands = {depart}
    for slot in range(tt.n_trips):
        stops, _arr, dep = tt.slot_times(slot)
        base = tt.slot_cell(slot, 0)
        for j, s in enumerate(stops):
            if int(s) in sources and tt.board[base + j]:
                d = int(dep[j]) - sources[int(s)]
                if depart <= d <= depart + window_s:
                    cands.add(d)
    points = []
    for d in cands:
        arrivals = rounds_brute_force(tt, fp, sources, targets, d, max_rides)
        if arrivals[0] < INF:
            points.append((d, int(arrivals[0]), 0))  # walking only
        for k in range(1, max_rides + 1):
            if arrivals[k] < INF and arrivals[k] < arrivals[k - 1]:
                points.append((d, int(arrivals[k]), k))
    return pareto_filter(points)


def pareto_filter(points: list[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
    """Keep points not dominated in (later departure, earlier arrival, fewer rides)."""
    keep = set()
    for p in points:
        dominated = any(q != p and q[0] >= p[0] and q[1] <= p[1] and q[2] <= p[2] for q in points)
        if not dominated:
            keep.add(p)
    return keep


def random_pairs(tt: Timetable, n: int, seed: int = 7) -> np.ndarray:
    """``n`` random (source, target, departure) triples over served stops and service hours."""
    rng = np.random.default_rng(seed)
    served = np.flatnonzero(np.diff(tt.stop_route_first) > 0)
    src = rng.choice(served, n)
    dst = rng.choice(served, n)
    t = rng.integers(5 * 3600, 23 * 3600, n)
    return np.stack([src, dst, t], axis=1)
