"""The compact one-day timetable RAPTOR runs on, built from a :class:`GtfsFeed` and cached.

A *route* here is a RAPTOR route: trips with the same stop sequence, sorted by
departure, and split where one trip would overtake another, so that at every
stop of a route the trips are ordered in time (what lets a query find the
earliest catchable trip by binary search). All times are int32 seconds since
the service-day midnight of the query date ("noon minus 12 h", as GTFS defines
it); trips of the previous service day still running after midnight appear with
times shifted by -86,400, early trips of the next day with +86,400.

Layout (flat arrays, CSR style)::

    route r: stops  route_stops[route_stop_first[r]:route_stop_first[r+1]]          (n_r stops)
             trips  slots route_trip_first[r] .. route_trip_first[r+1]-1            (m_r trips)
             times  arr/dep[route_time_first[r] + i*n_r + j]  (trip i, stop j)
    stop s:  routes stop_routes[stop_route_first[s]:...], position in that route stop_route_pos[...]

Trip ids, headsigns, route names and stop names are side tables of fixed-width
strings, so the whole timetable can be stored with :mod:`routing.cache` and
memory-mapped back.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from routing.cache import cache_key, file_digest, load_arrays, save_arrays
from routing.errors import DataError
from routing.transit.gtfs import DAY_S, GtfsFeed, parse_date, read_gtfs

log = logging.getLogger(__name__)

FORMAT_VERSION = 3
NEXT_DAY_HORIZON_S = 6 * 3600
"""Trips of the next service day departing before this time are included (late queries)."""

# GTFS route_type -> mode name used in itineraries (basic and extended types).
_MODES = {
    0: "TRAM",
    1: "SUBWAY",
    2: "RAIL",
    3: "BUS",
    4: "FERRY",
    5: "CABLE_CAR",
    6: "GONDOLA",
    7: "FUNICULAR",
    11: "TROLLEYBUS",
    12: "MONORAIL",
}


def route_type_mode(route_type: int) -> str:
    """Map a GTFS ``route_type`` (basic or extended) to an itinerary mode string."""
    if route_type in _MODES:
        return _MODES[route_type]
    family = route_type // 100
    return {
        1: "RAIL",
        2: "COACH",
        4: "SUBWAY",
        7: "BUS",
        8: "TROLLEYBUS",
        9: "TRAM",
        10: "FERRY",
        13: "GONDOLA",
        14: "FUNICULAR",
    }.get(family, "TRANSIT")


@dataclass(frozen=True)
class Timetable:
    """One service date's timetable as flat numpy arrays (see module docstring).

    Attributes (besides the route/stop CSR arrays described above)
    ----------------------------------------------------------------
    date : datetime.date
        The query date.
    timezone : str
        IANA zone the times are local to.
    day_start : int
        Unix time of the query date's service-day midnight (local noon - 12 h).
    board, alight : ndarray of bool
        Per (trip, stop) cell: boarding / alighting allowed (pickup/drop-off
        type, realtime skipped stops).
    seq : ndarray of int32
        GTFS stop_sequence per cell.
    slot_route : ndarray of int32
        RAPTOR route of each trip slot.
    trip_ids, trip_headsigns, trip_start : ndarray of str
        GTFS trip id, headsign and frequency start time of each slot.
    trip_gtfs_route : ndarray of int32
        Index into ``route_ids``/``route_short_names``/``route_types``.
    trip_day_offset : ndarray of int8
        -1, 0, +1: which service day the slot belongs to, relative to ``date``.
    trip_shape : ndarray of int32
        Shape index or -1.
    stop_ids, stop_names, stop_station_ids : ndarray of str
        Side tables of stops; ``stop_lat``/``stop_lon`` their coordinates.
    stop_wheelchair : ndarray of int8
        GTFS ``wheelchair_boarding`` per stop (0 unknown, 1 accessible, 2 not;
        platforms inherit their parent station's value).
    trip_wheelchair : ndarray of int8
        GTFS ``wheelchair_accessible`` per trip slot (0 unknown, 1 yes, 2 no).
    """

    date: dt.date
    timezone: str
    day_start: int
    stop_ids: np.ndarray
    stop_names: np.ndarray
    stop_station_ids: np.ndarray
    stop_lat: np.ndarray
    stop_lon: np.ndarray
    route_stop_first: np.ndarray
    route_stops: np.ndarray
    route_trip_first: np.ndarray
    route_time_first: np.ndarray
    arr: np.ndarray
    dep: np.ndarray
    board: np.ndarray
    alight: np.ndarray
    seq: np.ndarray
    stop_route_first: np.ndarray
    stop_routes: np.ndarray
    stop_route_pos: np.ndarray
    slot_route: np.ndarray
    trip_ids: np.ndarray
    trip_headsigns: np.ndarray
    trip_start: np.ndarray
    trip_gtfs_route: np.ndarray
    trip_day_offset: np.ndarray
    trip_shape: np.ndarray
    route_ids: np.ndarray
    route_short_names: np.ndarray
    route_long_names: np.ndarray
    route_types: np.ndarray
    route_agency: np.ndarray
    shape_first: np.ndarray
    shape_lat: np.ndarray
    shape_lon: np.ndarray
    transfer_from: np.ndarray
    transfer_to: np.ndarray
    transfer_time: np.ndarray
    stop_wheelchair: np.ndarray
    trip_wheelchair: np.ndarray

    @property
    def n_stops(self) -> int:
        """Number of stops (boarding places)."""
        return int(self.stop_ids.shape[0])

    @property
    def n_routes(self) -> int:
        """Number of RAPTOR routes."""
        return int(self.route_stop_first.shape[0] - 1)

    @property
    def n_trips(self) -> int:
        """Number of trip slots (trip instances running on this timetable's day)."""
        return int(self.slot_route.shape[0])

    def array_fields(self) -> dict[str, np.ndarray]:
        """Every array attribute by name (for the disk cache)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }

    def stop_index(self, stop_id: str) -> int:
        """Index of a stop id; raises :class:`DataError` if unknown."""
        hits = np.flatnonzero(self.stop_ids == stop_id)
        if not hits.size:
            raise DataError(f"unknown stop id {stop_id!r} in the timetable of {self.date}")
        return int(hits[0])

    def stops_named(self, name: str) -> np.ndarray:
        """Indices of all stops whose name or parent station id equals ``name``."""
        return np.flatnonzero((self.stop_names == name) | (self.stop_station_ids == name)).astype(
            np.int32
        )

    def slot_times(self, slot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(stops, arrivals, departures) of one trip slot."""
        r = int(self.slot_route[slot])
        a, b = int(self.route_stop_first[r]), int(self.route_stop_first[r + 1])
        n = b - a
        base = int(self.route_time_first[r]) + (slot - int(self.route_trip_first[r])) * n
        return self.route_stops[a:b], self.arr[base : base + n], self.dep[base : base + n]

    def slot_cell(self, slot: int, pos: int) -> int:
        """Flat index of (trip slot, stop position) into ``arr``/``dep``."""
        r = int(self.slot_route[slot])
        n = int(self.route_stop_first[r + 1] - self.route_stop_first[r])
        return int(self.route_time_first[r]) + (slot - int(self.route_trip_first[r])) * n + pos

    def slot_mode(self, slot: int) -> str:
        """Itinerary mode (TRAM, BUS, ...) of a trip slot."""
        return route_type_mode(int(self.route_types[self.trip_gtfs_route[slot]]))

    def to_datetime(self, seconds: float) -> dt.datetime:
        """Convert timetable seconds to an aware datetime in the timetable's zone."""
        return dt.datetime.fromtimestamp(self.day_start + float(seconds), ZoneInfo(self.timezone))

    def to_seconds(self, when: dt.datetime) -> int:
        """Convert a datetime (naive = local) to timetable seconds."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(self.timezone))
        return round(when.timestamp() - self.day_start)


def service_day_start(date: dt.date, timezone: str) -> int:
    """Unix time of a service day's reference midnight: local noon minus 12 hours."""
    noon = dt.datetime.combine(date, dt.time(12), ZoneInfo(timezone))
    return int(noon.timestamp()) - 12 * 3600


@dataclass
class TripSet:
    """Trip instances as flat per-trip arrays: the input of :func:`assemble_routes`.

    ``first`` offsets into the stop-time arrays; ``meta`` maps side-table names
    (``trip_ids``, ``trip_headsigns``, ...) to per-trip arrays.
    """

    first: np.ndarray
    stop: np.ndarray
    arr: np.ndarray
    dep: np.ndarray
    board: np.ndarray
    alight: np.ndarray
    seq: np.ndarray
    meta: dict[str, np.ndarray]

    @property
    def n_trips(self) -> int:
        return int(self.first.shape[0] - 1)


_TRIP_META = (
    "trip_ids",
    "trip_headsigns",
    "trip_start",
    "trip_gtfs_route",
    "trip_day_offset",
    "trip_shape",
    "trip_wheelchair",
)


def assemble_routes(trips: TripSet) -> dict[str, np.ndarray]:
    """Group trips into RAPTOR routes (same stops, FIFO) and build all route/stop arrays.

    Returns the route, stop-index and per-slot side-table arrays of a
    :class:`Timetable` (everything that depends on the trips).
    """
    first = trips.first
    # Trips share a route only if they also share pickup/drop-off rules: otherwise the
    # earliest catchable trip would not dominate the later ones (a later trip might stop
    # where the earlier one may not be left).
    patterns: dict[tuple[bytes, bytes], list[int]] = {}
    for t in range(trips.n_trips):
        a, b = first[t], first[t + 1]
        flags = trips.board[a:b].astype(np.uint8) | (trips.alight[a:b].astype(np.uint8) << 1)
        key = (trips.stop[a:b].astype(np.int32).tobytes(), flags.tobytes())
        patterns.setdefault(key, []).append(t)
    groups: list[tuple[np.ndarray, list[int]]] = []
    for (stop_bytes, _flags), members in patterns.items():
        stops = np.frombuffer(stop_bytes, dtype=np.int32)
        n = stops.shape[0]
        idx = np.array(members)
        rows = first[idx][:, None] + np.arange(n)[None, :]
        dep = trips.dep[rows]
        arr = trips.arr[rows]
        order = np.lexsort((arr[:, -1], dep[:, 0]))
        # Greedy split: a trip joins the first sub-route whose last trip it never overtakes.
        subs: list[list[int]] = []
        lasts: list[int] = []
        for o in order:
            for g, last in enumerate(lasts):
                if np.all(dep[o] >= dep[last]) and np.all(arr[o] >= arr[last]):
                    subs[g].append(int(idx[o]))
                    lasts[g] = int(o)
                    break
            else:
                subs.append([int(idx[o])])
                lasts.append(int(o))
        groups.extend((stops, sub) for sub in subs)
    n_routes = len(groups)
    route_stop_first = np.zeros(n_routes + 1, dtype=np.int64)
    route_trip_first = np.zeros(n_routes + 1, dtype=np.int64)
    route_time_first = np.zeros(n_routes + 1, dtype=np.int64)
    for r, (stops, members) in enumerate(groups):
        route_stop_first[r + 1] = route_stop_first[r] + stops.shape[0]
        route_trip_first[r + 1] = route_trip_first[r] + len(members)
        route_time_first[r + 1] = route_time_first[r] + stops.shape[0] * len(members)
    route_stops = (
        np.concatenate([g[0] for g in groups]).astype(np.int32) if groups else np.zeros(0, np.int32)
    )
    slot_trip = np.array([t for _, members in groups for t in members], dtype=np.int64)
    rows = (
        np.concatenate([np.arange(first[t], first[t + 1]) for t in slot_trip])
        if slot_trip.size
        else np.zeros(0, np.int64)
    )
    slot_route = np.repeat(np.arange(n_routes, dtype=np.int32), np.diff(route_trip_first))
    out: dict[str, np.ndarray] = {
        "route_stop_first": route_stop_first,
        "route_stops": route_stops,
        "route_trip_first": route_trip_first,
        "route_time_first": route_time_first,
        "arr": trips.arr[rows].astype(np.int32),
        "dep": trips.dep[rows].astype(np.int32),
        "board": trips.board[rows].astype(np.bool_),
        "alight": trips.alight[rows].astype(np.bool_),
        "seq": trips.seq[rows].astype(np.int32),
        "slot_route": slot_route,
    }
    for name in _TRIP_META:
        out[name] = trips.meta[name][slot_trip]
    return out


def stop_route_index(
    n_stops: int, route_stop_first: np.ndarray, route_stops: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR index stop -> (route, position in route) over every occurrence."""
    n_routes = route_stop_first.shape[0] - 1
    lengths = np.diff(route_stop_first)
    routes = np.repeat(np.arange(n_routes, dtype=np.int32), lengths)
    pos = (np.arange(route_stops.shape[0]) - np.repeat(route_stop_first[:-1], lengths)).astype(
        np.int32
    )
    order = np.argsort(route_stops, kind="stable")
    counts = np.bincount(route_stops, minlength=n_stops)
    first = np.zeros(n_stops + 1, dtype=np.int64)
    first[1:] = np.cumsum(counts)
    return first, routes[order], pos[order]


def day_trips(feed: GtfsFeed, date: dt.date) -> TripSet:
    """Select the trip instances that run on ``date`` (incl. after-midnight and early next-day).

    Raises
    ------
    DataError
        ``date`` lies outside the feed's calendar.
    """
    start, end = feed.validity()
    if not (start <= date <= end):
        raise DataError(
            f"date {date} is outside the validity of GTFS feed {feed.source} "
            f"({start} .. {end}); choose a date within it"
        )
    first = feed.trip_first
    first_dep = feed.st_dep[first[:-1]].astype(np.int64)
    last_arr = feed.st_arr[first[1:] - 1].astype(np.int64)
    service = feed.trips["service_id"].to_numpy()
    max_back = int(last_arr.max() // DAY_S) if last_arr.size else 0
    chosen: list[np.ndarray] = []
    shifts: list[np.ndarray] = []
    for back in range(max_back + 1):
        active = feed.active_services(date - dt.timedelta(days=back))
        mask = np.isin(service, list(active)) if active else np.zeros(len(service), dtype=bool)
        if back:
            mask &= last_arr >= back * DAY_S
        chosen.append(np.flatnonzero(mask))
        shifts.append(np.full(int(mask.sum()), -back * DAY_S, np.int64))
    active_next = feed.active_services(date + dt.timedelta(days=1))
    if active_next:
        mask = np.isin(service, list(active_next)) & (first_dep < NEXT_DAY_HORIZON_S)
        chosen.append(np.flatnonzero(mask))
        shifts.append(np.full(int(mask.sum()), DAY_S, np.int64))
    trip_idx = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    shift = np.concatenate(shifts) if shifts else np.zeros(0, np.int64)
    lengths = first[trip_idx + 1] - first[trip_idx]
    new_first = np.zeros(trip_idx.size + 1, dtype=np.int64)
    new_first[1:] = np.cumsum(lengths)
    rows = (
        np.concatenate([np.arange(first[t], first[t + 1]) for t in trip_idx])
        if trip_idx.size
        else np.zeros(0, np.int64)
    )
    row_shift = np.repeat(shift, lengths)
    trips = feed.trips
    meta = {
        "trip_ids": _fixed_str(trips["trip_id"].to_numpy()[trip_idx]),
        "trip_headsigns": _fixed_str(trips["headsign"].to_numpy()[trip_idx]),
        "trip_start": _fixed_str(trips["start_time"].to_numpy()[trip_idx]),
        "trip_gtfs_route": trips["route_idx"].to_numpy()[trip_idx].astype(np.int32),
        "trip_day_offset": (shift // DAY_S).astype(np.int8),
        "trip_shape": trips["shape_idx"].to_numpy()[trip_idx].astype(np.int32),
        "trip_wheelchair": (
            trips["wheelchair"].to_numpy()[trip_idx].astype(np.int8)
            if "wheelchair" in trips.columns
            else np.zeros(trip_idx.size, np.int8)
        ),
    }
    return TripSet(
        first=new_first,
        stop=feed.st_stop[rows],
        arr=feed.st_arr[rows].astype(np.int64) + row_shift,
        dep=feed.st_dep[rows].astype(np.int64) + row_shift,
        board=feed.st_board[rows],
        alight=feed.st_alight[rows],
        seq=feed.st_seq[rows],
        meta=meta,
    )


def _fixed_str(values: Any) -> np.ndarray:
    """Strings as a fixed-width unicode array (storable without pickle)."""
    out = np.asarray([str(v) for v in values])
    return out if out.size else np.zeros(0, dtype="<U1")


def build_timetable(feed: GtfsFeed, date: str | dt.date, timezone: str | None = None) -> Timetable:
    """Build the compact timetable of one service date.

    Parameters
    ----------
    feed : GtfsFeed
        A feed read by :func:`~routing.transit.gtfs.read_gtfs`.
    date : str or date
        The query date (``YYYY-MM-DD``).
    timezone : str, optional
        IANA zone (the region's); defaults to the feed's agency timezone.

    Raises
    ------
    DataError
        The date is outside the feed's validity or the zone is unknown.
    """
    t0 = time.perf_counter()
    date = parse_date(date)
    zone = timezone or feed.timezone or "UTC"
    try:
        ZoneInfo(zone)
    except Exception:
        raise DataError(f"unknown timezone {zone!r}; use an IANA name like Europe/Berlin") from None
    trips = day_trips(feed, date)
    parts = assemble_routes(trips)
    stops = feed.stops
    first, routes, pos = stop_route_index(
        len(stops), parts["route_stop_first"], parts["route_stops"]
    )
    routes_tab = feed.routes
    agency_names = dict(zip(feed.agencies["agency_id"], feed.agencies["agency_name"], strict=True))
    tr = feed.transfers
    tt = Timetable(
        date=date,
        timezone=zone,
        day_start=service_day_start(date, zone),
        stop_ids=_fixed_str(stops["stop_id"]),
        stop_names=_fixed_str(stops["stop_name"]),
        stop_station_ids=_fixed_str(stops["parent_station"]),
        stop_lat=stops["lat"].to_numpy(np.float64),
        stop_lon=stops["lon"].to_numpy(np.float64),
        stop_route_first=first,
        stop_routes=routes,
        stop_route_pos=pos,
        route_ids=_fixed_str(routes_tab["route_id"]),
        route_short_names=_fixed_str(routes_tab["short_name"]),
        route_long_names=_fixed_str(routes_tab["long_name"]),
        route_types=routes_tab["route_type"].to_numpy().astype(np.int32),
        route_agency=_fixed_str([agency_names.get(a, a) for a in routes_tab["agency_id"]]),
        shape_first=feed.shape_first.astype(np.int64),
        shape_lat=feed.shape_lat.astype(np.float64),
        shape_lon=feed.shape_lon.astype(np.float64),
        transfer_from=tr["from_idx"].to_numpy().astype(np.int32),
        transfer_to=tr["to_idx"].to_numpy().astype(np.int32),
        transfer_time=_transfer_times(tr),
        stop_wheelchair=(
            stops["wheelchair"].to_numpy().astype(np.int8)
            if "wheelchair" in stops.columns
            else np.zeros(len(stops), np.int8)
        ),
        **parts,
    )
    log.info(
        "built timetable for %s: %d stops, %d routes, %d trips, %d stop times in %.2f s",
        date,
        tt.n_stops,
        tt.n_routes,
        tt.n_trips,
        tt.arr.shape[0],
        time.perf_counter() - t0,
    )
    return tt


def _transfer_times(tr: pd.DataFrame) -> np.ndarray:
    """transfers.txt as one code per row: seconds for type 2, -3 for type 3 (banned), else -1."""
    kind = tr["transfer_type"].to_numpy().astype(np.int64)
    minimum = tr["min_transfer_time"].to_numpy().astype(np.int64)
    out = np.full(kind.shape, -1, dtype=np.int64)
    out[kind == 2] = np.maximum(minimum[kind == 2], 0)
    out[kind == 3] = -3
    return out.astype(np.int32)


def with_trips(timetable: Timetable, trips: TripSet) -> Timetable:
    """A copy of ``timetable`` whose trips are replaced (used by realtime updates)."""
    parts: dict[str, Any] = assemble_routes(trips)
    first, routes, pos = stop_route_index(
        timetable.n_stops, parts["route_stop_first"], parts["route_stops"]
    )
    return replace(
        timetable, stop_route_first=first, stop_routes=routes, stop_route_pos=pos, **parts
    )


def timetable_trips(timetable: Timetable) -> TripSet:
    """The trip instances of a timetable as a :class:`TripSet` (slot order; writable copies)."""
    n_slots = timetable.n_trips
    lengths = np.diff(timetable.route_stop_first)[timetable.slot_route]
    first = np.zeros(n_slots + 1, dtype=np.int64)
    first[1:] = np.cumsum(lengths)
    stops = (
        np.concatenate(
            [
                timetable.route_stops[
                    timetable.route_stop_first[r] : timetable.route_stop_first[r + 1]
                ]
                for r in timetable.slot_route
            ]
        )
        if n_slots
        else np.zeros(0, np.int32)
    )
    # Slots are stored route by route, trip-major: the flat time arrays are already in slot order.
    meta = {name: np.array(getattr(timetable, name)) for name in _TRIP_META}
    return TripSet(
        first=first,
        stop=stops,
        arr=np.array(timetable.arr, dtype=np.int64),
        dep=np.array(timetable.dep, dtype=np.int64),
        board=np.array(timetable.board),
        alight=np.array(timetable.alight),
        seq=np.array(timetable.seq),
        meta=meta,
    )


def load_timetable(
    gtfs_path: str | Path,
    date: str | dt.date,
    *,
    timezone: str,
    filters: dict[str, Any] | None = None,
    cache_dir: Path | None = None,
) -> Timetable:
    """Return the timetable of ``date``, from the cache when the feed and options are unchanged.

    Parameters
    ----------
    gtfs_path : str or Path
        The GTFS zip or folder.
    date : str or date
        Service date.
    timezone : str
        The region's IANA timezone.
    filters : dict, optional
        Keyword filters for :func:`read_gtfs` (``agencies``, ``routes``, ``bbox``).
    cache_dir : Path, optional
        Cache root; no caching when ``None``.
    """
    date = parse_date(date)
    filters = filters or {}
    path = Path(gtfs_path)
    key = None
    if cache_dir is not None and path.is_file():
        key = cache_key(
            file_digest(path), date.isoformat(), timezone, sorted(filters.items()), FORMAT_VERSION
        )
        hit = load_arrays(cache_dir, "timetable", key)
        if hit is not None:
            arrays, meta = hit
            log.info(
                "loaded timetable for %s from cache (%d trips)", date, arrays["slot_route"].shape[0]
            )
            return Timetable(
                date=date, timezone=meta["timezone"], day_start=int(meta["day_start"]), **arrays
            )
    feed = read_gtfs(path, **filters)
    tt = build_timetable(feed, date, timezone)
    if key is not None and cache_dir is not None:
        save_arrays(
            cache_dir,
            "timetable",
            key,
            tt.array_fields(),
            {
                "timezone": tt.timezone,
                "day_start": tt.day_start,
                "date": date.isoformat(),
                "source": str(path),
            },
        )
    return tt
