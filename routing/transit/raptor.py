"""RAPTOR queries as numba kernels on the flat arrays of a timetable.

The arrays are those of :class:`~routing.transit.timetable.Timetable`.

One kernel, :func:`raptor_kernel`, answers all query kinds:

* **earliest arrival** - a single departure time;
* **range RAPTOR** (rRAPTOR) - every departure time in a window, processed
  from the latest to the earliest while keeping the labels, so each run only
  explores what an earlier departure can still improve;
* **arrival time x number of rides** - labels are kept per round ("best
  arrival with at most k rides"), so each round's target label is one Pareto
  point; together with rRAPTOR this yields the Pareto set over
  (departure later, arrival earlier, fewer transfers).

Labels per round k and stop p: ``best[k, p]`` (with copy semantics, so
``best[k] <= best[k-1]``), ``src_round`` (the round whose own label that is),
the ride that produced it (trip slot, board and alight position) and, when the
last step was a footpath, the stop walked from. Pruning uses the per-round
target bound, which is exact for the Pareto criteria above. Each improved
target label is turned into a journey right after its departure run, so the
parent pointers are still consistent.

Journeys come back as integer arrays; :mod:`routing.transit.journeys` turns
them into legs.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from routing.arrays import BoolArray, Int64Array, IntArray

if TYPE_CHECKING:
    from routing.transit.timetable import Timetable

INF = np.int32(2_000_000_000)
_INF = 2_000_000_000

# Columns of the journey info array.
J_DEPARTURE, J_ROUNDS, J_TARGET, J_ARRIVAL, J_ACCESS, J_END_WALK_FROM = range(6)
# Columns of the per-ride array.
R_SLOT, R_BPOS, R_APOS, R_PRE_WALK_FROM = range(4)


@dataclass(frozen=True)
class Footpaths:
    """Walking transfers between stops as CSR arrays (``first`` (S+1), ``head``, ``duration`` s).

    Self loops are excluded: staying at a stop costs nothing.
    """

    first: np.ndarray
    head: np.ndarray
    duration: np.ndarray

    @classmethod
    def empty(cls, n_stops: int) -> Footpaths:
        """No footpaths at all."""
        return cls(np.zeros(n_stops + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32))

    @classmethod
    def from_pairs(
        cls, n_stops: int, src: np.ndarray, dst: np.ndarray, dur: np.ndarray
    ) -> Footpaths:
        """Build from (from, to, seconds) triples; the shortest of duplicates wins."""
        src = np.asarray(src, np.int64)
        dst = np.asarray(dst, np.int64)
        dur = np.asarray(dur, np.int64)
        keep = src != dst
        src, dst, dur = src[keep], dst[keep], dur[keep]
        order = np.lexsort((dur, dst, src))
        src, dst, dur = src[order], dst[order], dur[order]
        if src.size:
            first_of_pair = np.ones(src.size, dtype=bool)
            first_of_pair[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
            src, dst, dur = src[first_of_pair], dst[first_of_pair], dur[first_of_pair]
        first = np.zeros(n_stops + 1, dtype=np.int64)
        first[1:] = np.cumsum(np.bincount(src, minlength=n_stops))
        return cls(first, dst.astype(np.int32), dur.astype(np.int32))

    def duration_between(self, a: int, b: int) -> int:
        """Seconds of the footpath a -> b (0 when a == b; -1 when there is none)."""
        if a == b:
            return 0
        lo, hi = int(self.first[a]), int(self.first[a + 1])
        hits = np.flatnonzero(self.head[lo:hi] == b)
        return int(self.duration[lo + hits[0]]) if hits.size else -1

    @property
    def n_paths(self) -> int:
        """Number of directed footpaths."""
        return int(self.head.shape[0])


@numba.njit(cache=True)
def _first_catchable(
    dep: IntArray, board: BoolArray, base: int, n: int, lo: int, hi: int, pos: int, t: int
) -> int:
    """Smallest trip index i in [lo, hi) with dep[i, pos] >= t and boarding allowed; else hi."""
    a, b = lo, hi
    while a < b:
        mid = (a + b) // 2
        if dep[base + mid * n + pos] < t:
            a = mid + 1
        else:
            b = mid
    while a < hi and not board[base + a * n + pos]:
        a += 1
    return a


@numba.njit(cache=True)
def _improve(
    k: int, p: int, a: int, K: int, best: IntArray, src_round: IntArray, walk_from: IntArray,
    wf: int, egress: IntArray, tbound: IntArray, tgt_hit: IntArray,
) -> None:  # fmt: skip
    """Set own label of round k at stop p to a; copy it to higher rounds; update target bounds."""
    best[k, p] = a
    src_round[k, p] = k
    walk_from[k, p] = wf
    e = egress[p]
    if e >= 0:
        val = a + e
        if val < tbound[k]:
            tbound[k] = val
            tgt_hit[k] = p
    for j in range(k + 1, K + 1):
        if best[j, p] > a:
            best[j, p] = a
            src_round[j, p] = k
            if e >= 0 and a + e < tbound[j]:
                tbound[j] = a + e
        else:
            break


@numba.njit(cache=True)
def _improve_ride(k: int, p: int, a: int, K: int, rbest: IntArray) -> None:
    """Set the ride label of round k at stop p to a and copy it to higher rounds."""
    rbest[k, p] = a
    for j in range(k + 1, K + 1):
        if rbest[j, p] > a:
            rbest[j, p] = a
        else:
            break


@numba.njit(cache=True)
def _extract(
    k: int, t: int, best: IntArray, src_round: IntArray, walk_from: IntArray,
    ride_slot: IntArray, ride_bpos: IntArray, ride_apos: IntArray, slot_route: IntArray,
    route_stops: IntArray, route_stop_first: IntArray, out: IntArray,
) -> tuple[int, int, int]:  # fmt: skip
    """Follow parent pointers from target t's own label of round k; fill ``out`` (rides x 4).

    Returns (number of rides, access stop, stop walked from before t or -1).
    """
    K = out.shape[0]
    tmp = np.full((K, 4), -1, np.int64)
    n = 0
    p = t
    r = k
    end_wf = walk_from[r, p]
    if end_wf >= 0:
        p = end_wf
    while r > 0 and n < K:
        slot = ride_slot[r, p]
        tmp[n, 0] = slot
        tmp[n, 1] = ride_bpos[r, p]
        tmp[n, 2] = ride_apos[r, p]
        route = slot_route[slot]
        b = route_stops[route_stop_first[route] + ride_bpos[r, p]]
        r = src_round[r - 1, b]
        p = b
        wf = walk_from[r, p]
        tmp[n, 3] = wf
        if wf >= 0:
            p = wf
        n += 1
    for i in range(n):
        for c in range(4):
            out[i, c] = tmp[n - 1 - i, c]
    return n, p, end_wf


@numba.njit(cache=True)
def raptor_kernel(
    route_stop_first: IntArray, route_stops: IntArray, route_trip_first: IntArray,
    route_time_first: IntArray, dep_t: IntArray, arr_t: IntArray, board: BoolArray,
    alight: BoolArray, stop_route_first: IntArray, stop_routes: IntArray,
    stop_route_pos: IntArray, fp_first: IntArray, fp_head: IntArray, fp_dur: IntArray,
    slot_route: IntArray, src_stops: IntArray, src_access: IntArray, departures: IntArray,
    tgt_stops: IntArray, tgt_egress: IntArray, max_rounds: int,
) -> tuple[Int64Array, Int64Array]:  # fmt: skip
    """Range RAPTOR over per-round labels; returns the journeys that improved a target label.

    Parameters
    ----------
    route_* , dep_t, arr_t, board, alight, stop_route_* :
        Timetable arrays (see :mod:`routing.transit.timetable`).
    fp_first, fp_head, fp_dur :
        Footpath CSR arrays.
    slot_route : int32 array
        RAPTOR route of each trip slot.
    src_stops, src_access : int arrays
        Source stops and the walking seconds to reach each.
    departures : int64 array
        Departure times (seconds), sorted descending; one RAPTOR run each.
    tgt_stops, tgt_egress : int arrays
        Target stops and the walking seconds from each to the destination.
    max_rounds : int
        Maximum number of rides (transfers + 1).

    Returns
    -------
    info : int64 array (J, 6)
        One row per journey that improved a target label (rides may be 0: a
        walk from a source to a target, which bounds all later journeys);
        departure run time, rounds, target stop, arrival incl. egress, access
        stop, stop walked from before the target stop (-1 if none).
    rides : int64 array (J, max_rounds, 4)
        Per ride in travel order: trip slot, board position, alight position,
        stop walked from before boarding (-1 if none).
    """
    S = stop_route_first.shape[0] - 1
    R = route_stop_first.shape[0] - 1
    K = max_rounds
    best = np.full((K + 1, S), _INF, np.int64)
    src_round = np.full((K + 1, S), -1, np.int32)
    walk_from = np.full((K + 1, S), -1, np.int32)
    rbest = np.full((K + 1, S), _INF, np.int64)
    ride_slot = np.full((K + 1, S), -1, np.int32)
    ride_bpos = np.full((K + 1, S), -1, np.int32)
    ride_apos = np.full((K + 1, S), -1, np.int32)
    egress = np.full(S, -1, np.int64)
    for i in range(tgt_stops.shape[0]):
        t = tgt_stops[i]
        if egress[t] < 0 or tgt_egress[i] < egress[t]:
            egress[t] = tgt_egress[i]
    tbound = np.full(K + 1, _INF, np.int64)
    tgt_hit = np.full(K + 1, -1, np.int64)
    marked = np.zeros(S, np.bool_)
    marked_list = np.empty(S, np.int64)
    ride_marked = np.zeros(S, np.bool_)
    ride_list = np.empty(S, np.int64)
    route_pos = np.full(R, -1, np.int64)
    route_list = np.empty(R, np.int64)
    n_dep = departures.shape[0]
    info = np.full((n_dep * (K + 1), 6), -1, np.int64)
    rides = np.full((n_dep * (K + 1), K, 4), -1, np.int64)
    n_out = 0
    for di in range(n_dep):
        d = departures[di]
        for k in range(K + 1):
            tgt_hit[k] = -1
        # ---- round 0: access walks, then footpaths from the reached stops
        n_marked = 0
        n_ride = 0
        for i in range(src_stops.shape[0]):
            p = src_stops[i]
            a = d + src_access[i]
            if a < rbest[0, p] and a < tbound[0]:
                _improve_ride(0, p, a, K, rbest)
                ride_slot[0, p] = -1
                if a < best[0, p]:
                    _improve(0, p, a, K, best, src_round, walk_from, -1, egress, tbound, tgt_hit)
                    if not marked[p]:
                        marked[p] = True
                        marked_list[n_marked] = p
                        n_marked += 1
                if not ride_marked[p]:
                    ride_marked[p] = True
                    ride_list[n_ride] = p
                    n_ride += 1
        for k in range(K + 1):
            if k > 0:
                # ---- collect routes through stops improved in the previous round
                n_routes = 0
                for m in range(n_marked):
                    p = marked_list[m]
                    marked[p] = False
                    for e in range(stop_route_first[p], stop_route_first[p + 1]):
                        r = stop_routes[e]
                        pos = stop_route_pos[e]
                        if route_pos[r] < 0:
                            route_pos[r] = pos
                            route_list[n_routes] = r
                            n_routes += 1
                        elif pos < route_pos[r]:
                            route_pos[r] = pos
                n_marked = 0
                # ---- scan each route once from its earliest marked stop
                for q in range(n_routes):
                    r = route_list[q]
                    start = route_pos[r]
                    route_pos[r] = -1
                    s0 = route_stop_first[r]
                    n = route_stop_first[r + 1] - s0
                    base = route_time_first[r]
                    m_trips = route_trip_first[r + 1] - route_trip_first[r]
                    trip = -1
                    bpos = -1
                    for j in range(start, n):
                        p = route_stops[s0 + j]
                        if trip >= 0:
                            cell = base + trip * n + j
                            if alight[cell]:
                                a = arr_t[cell]
                                if a < rbest[k, p] and a < tbound[k]:
                                    _improve_ride(k, p, a, K, rbest)
                                    if a < best[k, p]:
                                        _improve(
                                            k,
                                            p,
                                            a,
                                            K,
                                            best,
                                            src_round,
                                            walk_from,
                                            -1,
                                            egress,
                                            tbound,
                                            tgt_hit,
                                        )
                                        if not marked[p]:
                                            marked[p] = True
                                            marked_list[n_marked] = p
                                            n_marked += 1
                                    ride_slot[k, p] = route_trip_first[r] + trip
                                    ride_bpos[k, p] = bpos
                                    ride_apos[k, p] = j
                                    if not ride_marked[p]:
                                        ride_marked[p] = True
                                        ride_list[n_ride] = p
                                        n_ride += 1
                        tprev = best[k - 1, p]
                        if tprev < _INF:
                            hi = trip if trip >= 0 else m_trips
                            if trip < 0 or tprev <= dep_t[base + trip * n + j]:
                                cand = _first_catchable(dep_t, board, base, n, 0, hi, j, tprev)
                                if cand < hi:
                                    trip = cand
                                    bpos = j
            # ---- footpaths from stops whose ride (or access) label improved in this round
            for m in range(n_ride):
                p = ride_list[m]
                ride_marked[p] = False
                a0 = rbest[k, p]
                for e in range(fp_first[p], fp_first[p + 1]):
                    h = fp_head[e]
                    a = a0 + fp_dur[e]
                    if a < best[k, h] and a < tbound[k]:
                        _improve(k, h, a, K, best, src_round, walk_from, p, egress, tbound, tgt_hit)
                        if not marked[h]:
                            marked[h] = True
                            marked_list[n_marked] = h
                            n_marked += 1
            n_ride = 0
            if n_marked == 0:
                break
        for m in range(n_marked):
            marked[marked_list[m]] = False
        # ---- journeys whose target label improved in this run
        for k in range(K + 1):
            t = tgt_hit[k]
            if t < 0:
                continue
            info[n_out, J_DEPARTURE] = d
            info[n_out, J_TARGET] = t
            info[n_out, J_ARRIVAL] = tbound[k]
            n_rides, access, end_wf = _extract(
                k,
                t,
                best,
                src_round,
                walk_from,
                ride_slot,
                ride_bpos,
                ride_apos,
                slot_route,
                route_stops,
                route_stop_first,
                rides[n_out],
            )
            info[n_out, J_ROUNDS] = n_rides
            info[n_out, J_ACCESS] = access
            info[n_out, J_END_WALK_FROM] = end_wf
            n_out += 1
    return info[:n_out], rides[:n_out]


@numba.njit(cache=True)
def source_departures(
    route_stop_first: IntArray, route_trip_first: IntArray, route_time_first: IntArray,
    dep_t: IntArray, board: BoolArray, stop_route_first: IntArray, stop_routes: IntArray,
    stop_route_pos: IntArray, src_stops: IntArray, src_access: IntArray, t_from: int, t_to: int,
) -> Int64Array:  # fmt: skip
    """Distinct departure times d in [t_from, t_to] with a trip leaving a source at d + access."""
    out = np.empty(0, np.int64)
    buf = []
    for i in range(src_stops.shape[0]):
        p = src_stops[i]
        acc = src_access[i]
        for e in range(stop_route_first[p], stop_route_first[p + 1]):
            r = stop_routes[e]
            j = stop_route_pos[e]
            n = route_stop_first[r + 1] - route_stop_first[r]
            base = route_time_first[r]
            for trip in range(route_trip_first[r + 1] - route_trip_first[r]):
                cell = base + trip * n + j
                d = dep_t[cell] - acc
                if board[cell] and t_from <= d <= t_to:
                    buf.append(d)
    if len(buf) == 0:
        return out
    out = np.array(buf, dtype=np.int64)
    out = np.unique(out)
    return out[::-1].copy()


def timetable_args(tt: Timetable, footpaths: Footpaths) -> tuple[np.ndarray, ...]:
    """The array arguments of :func:`raptor_kernel` in order (timetable, footpaths, slot routes)."""
    return (
        tt.route_stop_first,
        tt.route_stops,
        tt.route_trip_first,
        tt.route_time_first,
        tt.dep,
        tt.arr,
        tt.board,
        tt.alight,
        tt.stop_route_first,
        tt.stop_routes,
        tt.stop_route_pos,
        footpaths.first,
        footpaths.head,
        footpaths.duration,
        tt.slot_route,
    )


_ACCESSIBLE: dict[tuple[int, bool], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def accessible_stops(tt: Timetable, *, allow_unknown: bool = False) -> np.ndarray:
    """Stops a wheelchair user may board or leave at (GTFS ``wheelchair_boarding``).

    Parameters
    ----------
    tt : Timetable
    allow_unknown : bool
        Also accept stops without information (code 0); by default only
        stops marked accessible (1) are used.

    Returns
    -------
    ndarray of bool, shape (n_stops,)
    """
    codes = np.asarray(tt.stop_wheelchair)
    ok: np.ndarray = (codes == 1) | ((codes == 0) & allow_unknown)
    return ok


def accessible_trips(tt: Timetable, *, allow_unknown: bool = False) -> np.ndarray:
    """Trip slots with a wheelchair place (GTFS ``wheelchair_accessible``).

    See :func:`accessible_stops` for ``allow_unknown``.
    """
    codes = np.asarray(tt.trip_wheelchair)
    ok: np.ndarray = (codes == 1) | ((codes == 0) & allow_unknown)
    return ok


def wheelchair_cells(
    tt: Timetable, *, allow_unknown: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``board``/``alight`` restricted to accessible stops on accessible trips, and the stop mask.

    A rider may stay on board through an inaccessible stop; only getting on
    and off is restricted. Cached per timetable while it lives.

    Returns
    -------
    (board, alight, stops) : ndarrays of bool
        Cell masks shaped like ``tt.board`` and the accessible-stop mask.
    """
    key = (id(tt), bool(allow_unknown))
    hit = _ACCESSIBLE.get(key)
    if hit is not None:
        return hit
    stops_ok = accessible_stops(tt, allow_unknown=allow_unknown)
    trips_ok = accessible_trips(tt, allow_unknown=allow_unknown)
    n_stops = np.diff(tt.route_stop_first)
    n_trips = np.diff(tt.route_trip_first)
    per_route = n_stops * n_trips
    route = np.repeat(np.arange(n_stops.shape[0]), per_route)
    k = np.arange(int(per_route.sum())) - np.repeat(np.asarray(tt.route_time_first[:-1]), per_route)
    trip = k // n_stops[route]
    pos = k % n_stops[route]
    slot = np.asarray(tt.route_trip_first)[route] + trip
    stop = np.asarray(tt.route_stops)[np.asarray(tt.route_stop_first)[route] + pos]
    ok = stops_ok[stop] & trips_ok[slot]
    out = (np.asarray(tt.board) & ok, np.asarray(tt.alight) & ok, stops_ok)
    _ACCESSIBLE[key] = out
    weakref.finalize(tt, _ACCESSIBLE.pop, key, None)
    return out


def run_raptor(
    tt: Timetable,
    footpaths: Footpaths,
    src_stops: np.ndarray,
    src_access: np.ndarray,
    tgt_stops: np.ndarray,
    tgt_egress: np.ndarray,
    depart: int,
    *,
    window_s: int = 0,
    max_transfers: int = 5,
    args: tuple[np.ndarray, ...] | None = None,
    wheelchair: bool = False,
    allow_unknown_access: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Run (range) RAPTOR and return the raw journey arrays of :func:`raptor_kernel`.

    Parameters
    ----------
    tt : Timetable
        The day's timetable.
    footpaths : Footpaths
        Walking transfers.
    src_stops, src_access : arrays
        Source stops and access walking seconds.
    tgt_stops, tgt_egress : arrays
        Target stops and egress walking seconds.
    depart : int
        Earliest departure from the origin (timetable seconds).
    window_s : int
        With ``> 0``, every departure in ``[depart, depart + window_s]`` is
        considered (range RAPTOR); the first run always starts at ``depart``.
    max_transfers : int
        Maximum number of transfers (rides - 1).
    args : tuple, optional
        Precomputed :func:`timetable_args` (saves a few microseconds per query).
    wheelchair : bool
        Board and alight only at accessible stops of accessible trips
        (:func:`wheelchair_cells`); source and target stops that are not
        accessible are dropped. Pass step-free footpaths (from the wheelchair
        walk graph) for the transfers.
    allow_unknown_access : bool
        With ``wheelchair``, also accept stops and trips without information.
    """
    args = args if args is not None else timetable_args(tt, footpaths)
    board = tt.board
    if wheelchair:
        board, alight, stops_ok = wheelchair_cells(tt, allow_unknown=allow_unknown_access)
        args = (*args[:6], board, alight, *args[8:])
        src_keep = stops_ok[np.asarray(src_stops, dtype=np.int64)]
        tgt_keep = stops_ok[np.asarray(tgt_stops, dtype=np.int64)]
        src_stops, src_access = np.asarray(src_stops)[src_keep], np.asarray(src_access)[src_keep]
        tgt_stops, tgt_egress = np.asarray(tgt_stops)[tgt_keep], np.asarray(tgt_egress)[tgt_keep]
    src_stops = np.ascontiguousarray(src_stops, dtype=np.int64)
    src_access = np.ascontiguousarray(src_access, dtype=np.int64)
    tgt_stops = np.ascontiguousarray(tgt_stops, dtype=np.int64)
    tgt_egress = np.ascontiguousarray(tgt_egress, dtype=np.int64)
    if window_s > 0:
        deps = source_departures(
            tt.route_stop_first,
            tt.route_trip_first,
            tt.route_time_first,
            tt.dep,
            board,
            tt.stop_route_first,
            tt.stop_routes,
            tt.stop_route_pos,
            src_stops,
            src_access,
            int(depart),
            int(depart) + int(window_s),
        )
        # the run at `depart` itself finds the journeys after the window's last departure
        deps = deps[deps != depart]
        departures = np.concatenate((deps, np.array([depart], np.int64)))
    else:
        departures = np.array([depart], dtype=np.int64)
    # *args holds the timetable arrays (timetable_args), which mypy cannot count.
    return raptor_kernel(  # type: ignore[call-arg]
        *args,  # type: ignore[arg-type]
        src_stops, src_access, departures, tgt_stops, tgt_egress, int(max_transfers) + 1,
    )  # fmt: skip
