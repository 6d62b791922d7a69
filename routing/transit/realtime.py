"""Apply GTFS-Realtime TripUpdates (delays, cancellations, skipped stops) to a day's timetable.

Nothing is re-read from the GTFS feed: the trip instances of the timetable are
copied, the updates are applied to the copies, and the RAPTOR routes are
regrouped (a delayed trip that now overtakes another is moved into a route of
its own, so every route stays FIFO). The original timetable is untouched, so a
bad update never corrupts what is loaded.

Semantics follow the GTFS-RT reference: a delay (or absolute time) given at a
stop holds for the following stops until the next update; stops before the
first update keep their schedule; ``NO_DATA`` clears the propagated delay;
``SKIPPED`` forbids boarding and alighting at that stop; a trip with
``CANCELED`` (or ``DELETED``) disappears. Times are kept non-decreasing along
each trip (a vehicle cannot leave before it arrives).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import DataError
from routing.transit.timetable import Timetable, TripSet, timetable_trips, with_trips

log = logging.getLogger(__name__)

_CANCELED = {3, 7}  # TripDescriptor.CANCELED, DELETED
_SKIPPED = 1
_NO_DATA = 2


@dataclass
class RealtimeReport:
    """What an update did: counts plus the trip ids that could not be matched."""

    updated_trips: int = 0
    cancelled_trips: int = 0
    skipped_stops: int = 0
    unmatched_trips: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


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
    except DecodeError as exc:
        raise DataError(
            f"GTFS-RT message cannot be decoded ({exc}); is it a TripUpdates feed?"
        ) from None
    return feed


def _trip_slots(tt: Timetable) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for slot, tid in enumerate(tt.trip_ids.tolist()):
        index.setdefault(tid, []).append(slot)
    return index


def _select_slots(tt: Timetable, slots: list[int], descriptor) -> list[int]:
    """Slots of a trip id matching the descriptor's start date and start time when given."""
    out = slots
    if descriptor.HasField("start_date") and descriptor.start_date:
        try:
            day = dt.datetime.strptime(descriptor.start_date, "%Y%m%d").date()
        except ValueError:
            return []
        offset = (day - tt.date).days
        out = [s for s in out if int(tt.trip_day_offset[s]) == offset]
    else:
        today = [s for s in out if int(tt.trip_day_offset[s]) == 0]
        out = today or out
    if descriptor.HasField("start_time") and descriptor.start_time:
        with_start = [s for s in out if str(tt.trip_start[s]) == descriptor.start_time]
        if any(str(tt.trip_start[s]) for s in out):
            out = with_start
    return out


def apply_trip_updates(tt: Timetable, message) -> tuple[Timetable, RealtimeReport]:
    """Return a new timetable with the TripUpdates of ``message`` applied, and a report.

    Parameters
    ----------
    tt : Timetable
        The scheduled (or previously updated) timetable; not modified.
    message : FeedMessage, bytes or path
        GTFS-Realtime feed with TripUpdate entities (others are ignored).

    Raises
    ------
    DataError
        The message cannot be decoded.
    """
    feed = parse_feed_message(message)
    trips = timetable_trips(tt)
    # Slot order of the timetable equals trip order of ``trips``.
    slots_of = _trip_slots(tt)
    report = RealtimeReport()
    remove = np.zeros(trips.n_trips, dtype=bool)
    for entity in feed.entity:
        if not entity.HasField("trip_update"):
            continue
        update = entity.trip_update
        descriptor = update.trip
        tid = descriptor.trip_id
        slots = _select_slots(tt, slots_of.get(tid, []), descriptor) if tid else []
        if not slots:
            report.unmatched_trips.append(tid or f"<entity {entity.id}>")
            continue
        if descriptor.schedule_relationship in _CANCELED:
            remove[slots] = True
            report.cancelled_trips += len(slots)
            continue
        if descriptor.schedule_relationship not in (0,):
            report.ignored.append(
                f"{tid}: schedule_relationship {descriptor.schedule_relationship}"
            )
            continue
        for slot in slots:
            report.skipped_stops += _apply_stop_updates(tt, trips, slot, update, report)
            report.updated_trips += 1
    if remove.any():
        trips = _drop_trips(trips, remove)
    new = with_trips(tt, trips)
    if report.unmatched_trips:
        log.warning(
            "realtime: %d trip update(s) match no trip of %s (first: %s)",
            len(report.unmatched_trips),
            tt.date,
            report.unmatched_trips[0],
        )
    log.info(
        "realtime: %d trips updated, %d cancelled, %d stops skipped; %d routes now",
        report.updated_trips,
        report.cancelled_trips,
        report.skipped_stops,
        new.n_routes,
    )
    return new, report


def _apply_stop_updates(tt: Timetable, trips: TripSet, slot: int, update, report) -> int:
    """Apply one TripUpdate's stop time updates to trip ``slot`` of ``trips`` in place."""
    a, b = int(trips.first[slot]), int(trips.first[slot + 1])
    stops = trips.stop[a:b]
    seq = trips.seq[a:b]
    sched_arr = trips.arr[a:b].copy()
    sched_dep = trips.dep[a:b].copy()
    # Map each update to a position on the trip (by stop_sequence, else by stop_id in order).
    by_pos: dict[int, Any] = {}
    cursor = 0
    for stu in update.stop_time_update:
        pos = -1
        if stu.HasField("stop_sequence"):
            hits = np.flatnonzero(seq == stu.stop_sequence)
            pos = int(hits[0]) if hits.size else -1
        elif stu.stop_id:
            ids = tt.stop_ids[stops[cursor:]]
            hits = np.flatnonzero(ids == stu.stop_id)
            pos = cursor + int(hits[0]) if hits.size else -1
        if pos < 0:
            report.ignored.append(
                f"{tt.trip_ids[slot]}: stop update {stu.stop_sequence or stu.stop_id} "
                "not on the trip"
            )
            continue
        by_pos[pos] = stu
        cursor = pos
    skipped = 0
    delay: int | None = None
    arr, dep = sched_arr.copy(), sched_dep.copy()
    for j in range(b - a):
        stu = by_pos.get(j)
        if stu is None:
            if delay is not None:
                arr[j] += delay
                dep[j] += delay
            continue
        if stu.schedule_relationship == _NO_DATA:
            delay = None
            continue
        if stu.schedule_relationship == _SKIPPED:
            trips.board[a + j] = False
            trips.alight[a + j] = False
            skipped += 1
            if delay is not None:
                arr[j] += delay
                dep[j] += delay
            continue
        arr_delay = _event_delay(tt, stu, "arrival", sched_arr[j])
        dep_delay = _event_delay(tt, stu, "departure", sched_dep[j])
        if arr_delay is None:
            arr_delay = delay if delay is not None else (dep_delay if dep_delay is not None else 0)
        if dep_delay is None:
            dep_delay = arr_delay
        arr[j] = sched_arr[j] + arr_delay
        dep[j] = sched_dep[j] + dep_delay
        delay = dep_delay
    # A vehicle cannot leave before it arrives, nor arrive before it left the previous stop.
    for j in range(b - a):
        if j > 0 and arr[j] < dep[j - 1]:
            arr[j] = dep[j - 1]
        if dep[j] < arr[j]:
            dep[j] = arr[j]
    trips.arr[a:b] = arr
    trips.dep[a:b] = dep
    return skipped


def _event_delay(tt: Timetable, stu, name: str, scheduled: int) -> int | None:
    if not stu.HasField(name):
        return None
    event = getattr(stu, name)
    if event.HasField("time") and event.time:
        return int(event.time - tt.day_start) - int(scheduled)
    if event.HasField("delay"):
        return int(event.delay)
    return None


def _drop_trips(trips: TripSet, remove: np.ndarray) -> TripSet:
    keep = np.flatnonzero(~remove)
    lengths = np.diff(trips.first)[keep]
    first = np.zeros(keep.size + 1, dtype=np.int64)
    first[1:] = np.cumsum(lengths)
    rows = (
        np.concatenate([np.arange(trips.first[t], trips.first[t + 1]) for t in keep])
        if keep.size
        else np.zeros(0, np.int64)
    )
    return TripSet(
        first=first,
        stop=trips.stop[rows],
        arr=trips.arr[rows],
        dep=trips.dep[rows],
        board=trips.board[rows],
        alight=trips.alight[rows],
        seq=trips.seq[rows],
        meta={k: v[keep] for k, v in trips.meta.items()},
    )
