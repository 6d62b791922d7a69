"""Apply GTFS-Realtime TripUpdates (delays, cancellations, skipped stops, platforms) to a timetable.

Nothing is re-read from the GTFS feed: the timetable's arrays are copied, the
updates are applied to the copies, and only the RAPTOR routes that need it are
regrouped (a delayed trip that now overtakes another, a trip that skips a
stop or calls at another platform, is moved into a route of its own, so every
route stays FIFO). The original timetable is untouched, so a bad update never
corrupts what is loaded.

Semantics follow the GTFS-RT reference: a delay (or absolute time) given at a
stop holds for the following stops until the next update; stops before the
first update keep their schedule; ``NO_DATA`` clears the propagated delay;
``SKIPPED`` forbids boarding and alighting at that stop; a trip with
``CANCELED`` (or ``DELETED``) disappears; ``stop_time_properties.assigned_stop_id``
moves the call to another stop of the feed (a changed platform). Times are kept
non-decreasing along each trip (a vehicle cannot leave before it arrives).

The work is split so that a message updating every trip of a day stays in
the milliseconds: one Python pass reads the protobuf into flat arrays, a numba
kernel resolves stop positions and propagates delays over all trips at once,
and a vectorised FIFO check decides which routes need regrouping.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numba
import numpy as np

from routing.arrays import BoolArray, IntArray
from routing.errors import DataError
from routing.transit.timetable import (
    _TRIP_META,
    Timetable,
    TripSet,
    assemble_routes,
    stop_route_index,
)

log = logging.getLogger(__name__)

_CANCELED = {3, 7}  # TripDescriptor.CANCELED, DELETED
_SKIPPED = 1
_NO_DATA = 2
# Event kinds of the flat update records.
_NONE, _DELAY, _TIME = 0, 1, 2
#: Per-slot states in :attr:`RealtimeReport.slot_state`.
SCHEDULED, UPDATED, CANCELLED = 0, 1, 2


@dataclass
class RealtimeReport:
    """What an update did: counts, the trip ids that could not be matched, per-slot states.

    Attributes
    ----------
    updated_trips, cancelled_trips, skipped_stops, changed_stops : int
        Trip slots with updated times, removed slots, stops no longer served,
        calls moved to another stop (platform changes).
    regrouped_routes : int
        RAPTOR routes rebuilt because a trip overtook another or changed its stops.
    unmatched_trips : list of str
        Trip ids of updates that match no trip of the day.
    ignored : list of str
        Updates that could not be applied, with the reason.
    slot_state : ndarray of int8
        Per slot of the *input* timetable: :data:`SCHEDULED`, :data:`UPDATED` or
        :data:`CANCELLED`.
    skipped : set of (str, str)
        (trip id, stop id) pairs no longer served.
    assigned : dict of (str, str) to str
        (trip id, scheduled stop id) -> the stop id the trip calls at instead.
    """

    updated_trips: int = 0
    cancelled_trips: int = 0
    skipped_stops: int = 0
    changed_stops: int = 0
    regrouped_routes: int = 0
    unmatched_trips: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    slot_state: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    skipped: set[tuple[str, str]] = field(default_factory=set)
    assigned: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def entities(self) -> int:
        """Trip slots the update changed (updated plus cancelled)."""
        return self.updated_trips + self.cancelled_trips


class TripIndex:
    """Lookups of one timetable reused by every update applied to it (trip id -> slots)."""

    def __init__(self, tt: Timetable) -> None:
        self.timetable = tt
        self.slots: dict[str, list[int]] = {}
        for slot, tid in enumerate(tt.trip_ids.tolist()):
            self.slots.setdefault(tid, []).append(slot)
        self.stops: dict[str, int] = {sid: i for i, sid in enumerate(tt.stop_ids.tolist())}
        n_r = np.diff(tt.route_stop_first)
        route = np.asarray(tt.slot_route, dtype=np.int64)
        rank = np.arange(tt.n_trips, dtype=np.int64) - np.asarray(tt.route_trip_first)[route]
        self.slot_n = n_r[route].astype(np.int64)
        self.slot_base = np.asarray(tt.route_time_first)[route] + rank * self.slot_n
        self.slot_stop_base = np.asarray(tt.route_stop_first)[route].astype(np.int64)


def parse_feed_message(message: Any) -> Any:
    """Accept a ``FeedMessage``, its serialized bytes, or a path to a ``.pb`` file."""
    from google.protobuf.message import DecodeError
    from google.transit import gtfs_realtime_pb2

    if isinstance(message, gtfs_realtime_pb2.FeedMessage):
        return message
    if isinstance(message, str | Path):
        path = Path(message)
        try:
            message = path.read_bytes()
        except OSError as exc:
            raise DataError(f"cannot read GTFS-RT file {path}: {exc}") from None
    feed = gtfs_realtime_pb2.FeedMessage()
    try:
        feed.ParseFromString(bytes(message))
    except (DecodeError, ValueError, TypeError) as exc:
        raise DataError(
            f"GTFS-RT message cannot be decoded ({exc}); is it a GTFS-Realtime protobuf feed?"
        ) from None
    if not feed.HasField("header"):
        raise DataError(
            "GTFS-RT message has no FeedHeader (an empty or truncated answer); "
            "a feed without updates still sends its header"
        )
    return feed


def _select_slots(tt: Timetable, slots: list[int], descriptor: Any) -> list[int]:
    """Slots of a trip id matching the descriptor's start date and start time when given."""
    out = slots
    if descriptor.start_date:
        try:
            day = dt.datetime.strptime(descriptor.start_date, "%Y%m%d").date()
        except ValueError:
            return []
        offset = (day - tt.date).days
        out = [s for s in out if int(tt.trip_day_offset[s]) == offset]
    elif len(out) > 1:
        today = [s for s in out if int(tt.trip_day_offset[s]) == 0]
        out = today or out
    if descriptor.start_time:
        with_start = [s for s in out if str(tt.trip_start[s]) == descriptor.start_time]
        if any(str(tt.trip_start[s]) for s in out):
            out = with_start
    return out


_FIELDS = 8  # seq, stop, rel, akind, aval, dkind, dval, assigned


@dataclass
class _Records:
    """Stop time updates as one flat int list (``_FIELDS`` per update), grouped by trip slot.

    Group ``g`` is trip slot ``group_slot[g]`` with updates
    ``group_first[g] .. group_first[g+1]-1``. ``stop`` is -1 when the update
    gives a stop_sequence, -2 for an unknown stop id (its text in ``unknown``).
    """

    group_slot: list[int] = field(default_factory=list)
    group_first: list[int] = field(default_factory=lambda: [0])
    flat: list[int] = field(default_factory=list)
    unknown: dict[int, str] = field(default_factory=dict)

    def columns(self) -> np.ndarray:
        """The updates as an (n, ``_FIELDS``) int64 array."""
        return np.asarray(self.flat, dtype=np.int64).reshape(-1, _FIELDS)


def _event(event: Any) -> tuple[int, int]:
    """(kind, value) of a StopTimeEvent; an unset event reads as all defaults."""
    t = event.time
    if t:
        return _TIME, int(t)
    d = event.delay
    if d or event.HasField("delay"):
        return _DELAY, int(d)
    return _NONE, 0


def _read_updates(
    feed: Any, index: TripIndex, report: RealtimeReport
) -> tuple[_Records, np.ndarray]:
    """One pass over the protobuf: cancellations as a slot mask, stop updates as records.

    The inner loop reads each field once and avoids ``HasField`` where a
    default value already tells (a full-day feed has tens of thousands of updates).
    """
    tt = index.timetable
    remove = np.zeros(tt.n_trips, dtype=bool)
    rec = _Records()
    flat = rec.flat
    extend = flat.extend
    stops_of = index.stops
    for entity in feed.entity:
        if not entity.HasField("trip_update"):
            continue
        update = entity.trip_update
        descriptor = update.trip
        tid = descriptor.trip_id
        slots = index.slots.get(tid, []) if tid else []
        if slots and (descriptor.start_date or descriptor.start_time or len(slots) > 1):
            slots = _select_slots(tt, slots, descriptor)
        if not slots:
            report.unmatched_trips.append(tid or f"<entity {entity.id}>")
            continue
        relationship = descriptor.schedule_relationship
        if relationship in _CANCELED:
            remove[slots] = True
            continue
        if relationship != 0:
            report.ignored.append(f"{tid}: schedule_relationship {relationship}")
            continue
        begin = len(flat)
        for stu in update.stop_time_update:
            seq = stu.stop_sequence
            if seq == 0 and not stu.HasField("stop_sequence"):
                seq = -1
            stop = -1
            if seq < 0:
                sid = stu.stop_id
                if not sid:
                    report.ignored.append(f"{tid}: stop update without stop_sequence or stop_id")
                    continue
                stop = stops_of.get(sid, -2)
                if stop == -2:
                    rec.unknown[len(flat) // _FIELDS] = sid
            assigned = -1
            new_stop = stu.stop_time_properties.assigned_stop_id
            if new_stop:
                assigned = stops_of.get(new_stop, -2)
                if assigned == -2:
                    report.ignored.append(f"{tid}: assigned_stop_id {new_stop!r} unknown")
                    assigned = -1
            akind, aval = _event(stu.arrival)
            dkind, dval = _event(stu.departure)
            extend((seq, stop, stu.schedule_relationship, akind, aval, dkind, dval, assigned))
        chunk = flat[begin:] if len(slots) > 1 else None
        for k, slot in enumerate(slots):
            if k > 0 and chunk is not None:
                extend(chunk)
            rec.group_slot.append(slot)
            rec.group_first.append(len(flat) // _FIELDS)
    return rec, remove


@numba.njit(cache=True)
def _apply_kernel(
    arr: IntArray, dep: IntArray, board: BoolArray, alight: BoolArray, seq: IntArray,
    route_stops: IntArray, slot_base: IntArray, slot_n: IntArray, slot_stop_base: IntArray,
    group_slot: IntArray, group_first: IntArray, r_seq: IntArray, r_stop: IntArray,
    r_rel: BoolArray, r_akind: IntArray, r_aval: IntArray, r_dkind: IntArray, r_dval: IntArray,
    day_start: int | np.integer[Any], r_pos: IntArray, group_skipped: IntArray,
) -> None:  # fmt: skip
    """Propagate the stop updates of every group into ``arr``/``dep``/``board``/``alight``."""
    max_n = 1
    for g in range(group_slot.shape[0]):
        max_n = max(max_n, slot_n[group_slot[g]])
    pos_of = np.full(max_n, -1, np.int64)
    sched_arr = np.zeros(max_n, np.int64)
    sched_dep = np.zeros(max_n, np.int64)
    new_arr = np.zeros(max_n, np.int64)
    new_dep = np.zeros(max_n, np.int64)
    for g in range(group_slot.shape[0]):
        slot = group_slot[g]
        a = slot_base[slot]
        n = slot_n[slot]
        sb = slot_stop_base[slot]
        for j in range(n):
            pos_of[j] = -1
            sched_arr[j] = arr[a + j]
            sched_dep[j] = dep[a + j]
            new_arr[j] = arr[a + j]
            new_dep[j] = dep[a + j]
        cursor = 0
        for k in range(group_first[g], group_first[g + 1]):
            pos = -1
            if r_seq[k] >= 0:
                for j in range(n):
                    if seq[a + j] == r_seq[k]:
                        pos = j
                        break
            elif r_stop[k] >= 0:
                for j in range(cursor, n):
                    if route_stops[sb + j] == r_stop[k]:
                        pos = j
                        break
            r_pos[k] = pos
            if pos >= 0:
                pos_of[pos] = k
                cursor = pos
        skipped = 0
        has_delay = False
        delay = 0
        for j in range(n):
            k = pos_of[j]
            if k < 0:
                if has_delay:
                    new_arr[j] += delay
                    new_dep[j] += delay
                continue
            if r_rel[k] == 2:  # NO_DATA
                has_delay = False
                continue
            if r_rel[k] == 1:  # SKIPPED
                board[a + j] = False
                alight[a + j] = False
                skipped += 1
                if has_delay:
                    new_arr[j] += delay
                    new_dep[j] += delay
                continue
            has_arr = r_akind[k] != 0
            has_dep = r_dkind[k] != 0
            arr_delay = 0
            dep_delay = 0
            if r_akind[k] == 2:
                arr_delay = r_aval[k] - day_start - sched_arr[j]
            elif r_akind[k] == 1:
                arr_delay = r_aval[k]
            if r_dkind[k] == 2:
                dep_delay = r_dval[k] - day_start - sched_dep[j]
            elif r_dkind[k] == 1:
                dep_delay = r_dval[k]
            if not has_arr:
                if has_delay:
                    arr_delay = delay
                elif has_dep:
                    arr_delay = dep_delay
                else:
                    arr_delay = 0
            if not has_dep:
                dep_delay = arr_delay
            new_arr[j] = sched_arr[j] + arr_delay
            new_dep[j] = sched_dep[j] + dep_delay
            delay = dep_delay
            has_delay = True
        # A vehicle cannot leave before it arrives, nor arrive before it left the previous stop.
        for j in range(n):
            if j > 0 and new_arr[j] < new_dep[j - 1]:
                new_arr[j] = new_dep[j - 1]
            if new_dep[j] < new_arr[j]:
                new_dep[j] = new_arr[j]
            arr[a + j] = new_arr[j]
            dep[a + j] = new_dep[j]
        group_skipped[g] = skipped


@numba.njit(cache=True)
def _fifo_broken(
    arr: IntArray, dep: IntArray, route_stop_first: IntArray, route_trip_first: IntArray,
    route_time_first: IntArray, drop: BoolArray, out: BoolArray,
) -> None:  # fmt: skip
    """Mark routes where a kept trip leaves or arrives before the kept trip ahead of it."""
    for r in range(route_stop_first.shape[0] - 1):
        n = route_stop_first[r + 1] - route_stop_first[r]
        base = route_time_first[r]
        prev = -1
        for i in range(route_trip_first[r + 1] - route_trip_first[r]):
            if drop[route_trip_first[r] + i]:
                continue
            if prev >= 0:
                for j in range(n):
                    c, p = base + i * n + j, base + prev * n + j
                    if dep[c] < dep[p] or arr[c] < arr[p]:
                        out[r] = True
                        break
            if out[r]:
                break
            prev = i


def apply_trip_updates(
    tt: Timetable, message: Any, *, index: TripIndex | None = None
) -> tuple[Timetable, RealtimeReport]:
    """Return a new timetable with the TripUpdates of ``message`` applied, and a report.

    Parameters
    ----------
    tt : Timetable
        The scheduled timetable; not modified. Apply a full-dataset feed to
        the schedule each time, not to the previous result.
    message : FeedMessage, bytes or path
        GTFS-Realtime feed with TripUpdate entities (others are ignored).
    index : TripIndex, optional
        Lookups of ``tt`` kept by the caller between updates (built when missing).

    Raises
    ------
    DataError
        The message cannot be decoded.
    """
    feed = parse_feed_message(message)
    index = index if index is not None and index.timetable is tt else TripIndex(tt)
    report = RealtimeReport(slot_state=np.zeros(tt.n_trips, np.int8))
    rec, remove = _read_updates(feed, index, report)
    arr = np.array(tt.arr, dtype=np.int32)
    dep = np.array(tt.dep, dtype=np.int32)
    board = np.array(tt.board, dtype=np.bool_)
    alight = np.array(tt.alight, dtype=np.bool_)
    n_groups = len(rec.group_slot)
    group_slot = np.asarray(rec.group_slot, dtype=np.int64)
    cols = rec.columns()
    r_pos = np.full(cols.shape[0], -1, dtype=np.int64)
    group_skipped = np.zeros(n_groups, dtype=np.int64)
    group_first = np.asarray(rec.group_first, dtype=np.int64)
    if n_groups:
        _apply_kernel(
            arr,
            dep,
            board,
            alight,
            np.asarray(tt.seq),
            np.asarray(tt.route_stops),
            index.slot_base,
            index.slot_n,
            index.slot_stop_base,
            group_slot,
            group_first,
            np.ascontiguousarray(cols[:, 0]),
            np.ascontiguousarray(cols[:, 1]),
            np.ascontiguousarray(cols[:, 2]),
            np.ascontiguousarray(cols[:, 3]),
            np.ascontiguousarray(cols[:, 4]),
            np.ascontiguousarray(cols[:, 5]),
            np.ascontiguousarray(cols[:, 6]),
            np.int64(tt.day_start),
            r_pos,
            group_skipped,
        )
    # Report what did not match, and which slots changed how.
    for k in np.flatnonzero(r_pos < 0).tolist():
        g = int(np.searchsorted(group_first, k, side="right") - 1)
        seq, stop = int(cols[k, 0]), int(cols[k, 1])
        label = str(seq) if seq >= 0 else rec.unknown.get(k) or str(tt.stop_ids[stop])
        report.ignored.append(
            f"{tt.trip_ids[rec.group_slot[g]]}: stop update {label} not on the trip"
        )
    report.slot_state[group_slot] = UPDATED
    report.slot_state[remove] = CANCELLED
    report.cancelled_trips = int(remove.sum())
    live_groups = ~remove[group_slot] if n_groups else np.zeros(0, bool)
    report.updated_trips = int(live_groups.sum())
    report.skipped_stops = int(group_skipped[live_groups].sum())
    # Trips whose calls changed (skipped stops, platforms) get routes of their own.
    moved = np.zeros(tt.n_trips, dtype=bool)
    changed_stop: dict[int, list[tuple[int, int]]] = {}
    rel = cols[:, 2]
    assigned = cols[:, 7]
    for g in np.flatnonzero(group_skipped > 0).tolist():
        moved[rec.group_slot[g]] = True
    for k in np.flatnonzero((assigned >= 0) & (r_pos >= 0) & (rel != _SKIPPED)).tolist():
        g = int(np.searchsorted(group_first, k, side="right") - 1)
        slot = rec.group_slot[g]
        pos = int(r_pos[k])
        old = int(tt.route_stops[index.slot_stop_base[slot] + pos])
        if old != int(assigned[k]):
            changed_stop.setdefault(slot, []).append((pos, int(assigned[k])))
            moved[slot] = True
    moved &= ~remove
    for slot, changes in changed_stop.items():
        if remove[slot]:
            continue
        tid = str(tt.trip_ids[slot])
        for pos, new in changes:
            old = int(tt.route_stops[index.slot_stop_base[slot] + pos])
            report.assigned[(tid, str(tt.stop_ids[old]))] = str(tt.stop_ids[new])
            report.changed_stops += 1
    for g in np.flatnonzero((group_skipped > 0) & live_groups).tolist():
        slot = rec.group_slot[g]
        base = int(index.slot_base[slot])
        for j in np.flatnonzero(~board[base : base + int(index.slot_n[slot])]).tolist():
            if tt.board[base + j]:
                stop = int(tt.route_stops[index.slot_stop_base[slot] + j])
                report.skipped.add((str(tt.trip_ids[slot]), str(tt.stop_ids[stop])))
    broken = np.zeros(tt.n_routes, dtype=bool)
    _fifo_broken(
        arr,
        dep,
        np.asarray(tt.route_stop_first),
        np.asarray(tt.route_trip_first),
        np.asarray(tt.route_time_first),
        remove | moved,
        broken,
    )
    broken[np.asarray(tt.slot_route)[moved]] = True
    report.regrouped_routes = int(broken.sum())
    updated = _rebuild(tt, index, arr, dep, board, alight, remove, broken, changed_stop)
    if report.unmatched_trips:
        log.warning(
            "realtime: %d trip update(s) match no trip of %s (first: %s)",
            len(report.unmatched_trips),
            tt.date,
            report.unmatched_trips[0],
        )
    log.info(
        "realtime: %d trips updated, %d cancelled, %d stops skipped, %d moved; %d routes regrouped",
        report.updated_trips,
        report.cancelled_trips,
        report.skipped_stops,
        report.changed_stops,
        report.regrouped_routes,
    )
    return updated, report


def _rebuild(
    tt: Timetable,
    index: TripIndex,
    arr: np.ndarray,
    dep: np.ndarray,
    board: np.ndarray,
    alight: np.ndarray,
    remove: np.ndarray,
    broken: np.ndarray,
    changed_stop: dict[int, list[tuple[int, int]]],
) -> Timetable:
    """The timetable with new times; dropped slots removed and ``broken`` routes regrouped."""
    if not remove.any() and not broken.any():
        return replace(tt, arr=arr, dep=dep, board=board, alight=alight)
    slot_route = np.asarray(tt.slot_route)
    # Routes kept as they are, minus their cancelled trips.
    keep_slot = ~remove & ~broken[slot_route]
    cell_slot = np.repeat(np.arange(tt.n_trips), index.slot_n)
    keep_cell = keep_slot[cell_slot]
    kept_trips = np.bincount(slot_route[keep_slot], minlength=tt.n_routes)
    keep_route = kept_trips > 0
    n_r = np.diff(tt.route_stop_first)
    route_of_stop_cell = np.repeat(np.arange(tt.n_routes), n_r)
    # Regrouped trips: the broken routes' kept slots, as a TripSet for assemble_routes.
    regroup = np.flatnonzero(~remove & broken[slot_route])
    parts: dict[str, np.ndarray] | None = None
    if regroup.size:
        lengths = index.slot_n[regroup]
        first = np.zeros(regroup.size + 1, dtype=np.int64)
        first[1:] = np.cumsum(lengths)
        rows = np.concatenate(
            [np.arange(index.slot_base[s], index.slot_base[s] + index.slot_n[s]) for s in regroup]
        )
        stop_rows = np.concatenate(
            [
                np.arange(index.slot_stop_base[s], index.slot_stop_base[s] + index.slot_n[s])
                for s in regroup
            ]
        )
        stop = np.asarray(tt.route_stops)[stop_rows].astype(np.int32)
        for i, s in enumerate(regroup.tolist()):
            for pos, new in changed_stop.get(s, ()):
                stop[first[i] + pos] = new
        trips = TripSet(
            first=first,
            stop=stop,
            arr=arr[rows].astype(np.int64),
            dep=dep[rows].astype(np.int64),
            board=board[rows],
            alight=alight[rows],
            seq=np.asarray(tt.seq)[rows],
            meta={name: np.asarray(getattr(tt, name))[regroup] for name in _TRIP_META},
        )
        parts = assemble_routes(trips)
    kept_routes = np.flatnonzero(keep_route)
    kr_n = n_r[kept_routes]
    kr_m = kept_trips[kept_routes]

    def offsets(sizes: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
        tail = np.diff(extra) if extra is not None else np.zeros(0, np.int64)
        out = np.zeros(sizes.size + tail.size + 1, dtype=np.int64)
        out[1:] = np.cumsum(np.concatenate([sizes, tail]))
        return out

    def cat(old: np.ndarray, name: str) -> np.ndarray:
        return np.concatenate([old, parts[name]]) if parts is not None else old

    route_stop_first = offsets(kr_n, parts["route_stop_first"] if parts else None)
    route_trip_first = offsets(kr_m, parts["route_trip_first"] if parts else None)
    route_time_first = offsets(kr_n * kr_m, parts["route_time_first"] if parts else None)
    route_stops = cat(
        np.asarray(tt.route_stops)[keep_route[route_of_stop_cell]].astype(np.int32), "route_stops"
    )
    remap = np.full(tt.n_routes, -1, dtype=np.int32)
    remap[kept_routes] = np.arange(kept_routes.size, dtype=np.int32)
    old_slot_route = remap[slot_route[keep_slot]]
    new_slot_route = (
        parts["slot_route"].astype(np.int32) + np.int32(kept_routes.size)
        if parts is not None
        else np.zeros(0, np.int32)
    )
    out: dict[str, Any] = {
        "route_stop_first": route_stop_first,
        "route_stops": route_stops,
        "route_trip_first": route_trip_first,
        "route_time_first": route_time_first,
        "arr": cat(arr[keep_cell], "arr").astype(np.int32),
        "dep": cat(dep[keep_cell], "dep").astype(np.int32),
        "board": cat(board[keep_cell], "board"),
        "alight": cat(alight[keep_cell], "alight"),
        "seq": cat(np.asarray(tt.seq)[keep_cell], "seq").astype(np.int32),
        "slot_route": np.concatenate([old_slot_route, new_slot_route]).astype(np.int32),
    }
    for name in _TRIP_META:
        out[name] = cat(np.asarray(getattr(tt, name))[keep_slot], name)
    first, routes, route_pos = stop_route_index(tt.n_stops, route_stop_first, route_stops)
    return replace(tt, stop_route_first=first, stop_routes=routes, stop_route_pos=route_pos, **out)
