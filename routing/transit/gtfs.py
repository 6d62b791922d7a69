"""Read and validate a GTFS feed (zip or folder) into tables and flat stop-time arrays.

The reader is lenient where the feed stays usable (a stop_times row naming an
unknown trip or stop, a trip whose times run backwards: the row or trip is
skipped with one warning naming the file, line and field) and strict where it
is not (a missing required file or column, an unparsable time or date: a
:class:`~routing.errors.DataError` naming file, line and field). With
``strict=True`` every problem raises.

Stop times are stored per trip as flat arrays (``trip_first`` offsets), times in
seconds since the trip's service-day midnight (GTFS times past 24:00 stay
past 86,400). Trips defined by ``frequencies.txt`` are expanded into one trip
instance per departure. Filters (agency, route, bounding box) are applied while
reading so a national feed shrinks to one operator before anything else.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from routing.errors import DataError

log = logging.getLogger(__name__)

REQUIRED_FILES = ("stops.txt", "routes.txt", "trips.txt", "stop_times.txt")
REQUIRED_COLUMNS = {
    "stops.txt": ("stop_id",),
    "routes.txt": ("route_id", "route_type"),
    "trips.txt": ("route_id", "service_id", "trip_id"),
    "stop_times.txt": ("trip_id", "stop_id", "stop_sequence"),
    "calendar.txt": (
        "service_id",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "start_date",
        "end_date",
    ),
    "calendar_dates.txt": ("service_id", "date", "exception_type"),
    "frequencies.txt": ("trip_id", "start_time", "end_time", "headway_secs"),
    "transfers.txt": ("from_stop_id", "to_stop_id", "transfer_type"),
    "shapes.txt": ("shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence"),
    "agency.txt": ("agency_name",),
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_S = 86_400


@dataclass
class GtfsFeed:
    """A validated GTFS feed: small tables as DataFrames, stop times as flat arrays.

    Attributes
    ----------
    source : str
        Path the feed was read from.
    timezone : str
        ``agency_timezone`` of the first agency (``""`` when absent).
    agencies : DataFrame
        ``agency_id, agency_name``.
    stops : DataFrame
        Boarding places (location_type 0) in index order: ``stop_id, stop_name,
        lat, lon, parent_station, station_name, wheelchair`` (wheelchair_boarding
        0 unknown / 1 accessible / 2 not, inherited from the parent station when 0).
    routes : DataFrame
        ``route_id, agency_id, short_name, long_name, route_type``.
    trips : DataFrame
        One row per trip instance (frequency trips expanded): ``trip_id,
        route_idx, service_id, headsign, shape_idx, start_time, wheelchair``
        (wheelchair_accessible 0 unknown / 1 accessible / 2 not).
    trip_first : ndarray of int64, shape (n_trips + 1,)
        The stop times of trip ``t`` are ``trip_first[t]:trip_first[t+1]``.
    st_stop : ndarray of int32
        Stop index of each stop time.
    st_arr, st_dep : ndarray of int32
        Arrival and departure, seconds since the service day's midnight.
    st_board, st_alight : ndarray of bool
        Whether boarding (pickup) and alighting (drop-off) are allowed.
    st_seq : ndarray of int32
        GTFS ``stop_sequence`` of each stop time (realtime updates refer to it).
    calendar : DataFrame
        ``service_id``, the seven weekday flags, ``start_date``, ``end_date`` (date objects).
    calendar_dates : DataFrame
        ``service_id, date, exception_type`` (1 added, 2 removed).
    transfers : DataFrame
        ``from_idx, to_idx, transfer_type, min_transfer_time`` (stop indices).
    shape_first : ndarray of int64
        Points of shape ``k`` are ``shape_first[k]:shape_first[k+1]``.
    shape_lat, shape_lon : ndarray of float64
        Shape points.
    shape_ids : list of str
        Id of each shape index.
    """

    source: str
    timezone: str
    agencies: pd.DataFrame
    stops: pd.DataFrame
    routes: pd.DataFrame
    trips: pd.DataFrame
    trip_first: np.ndarray
    st_stop: np.ndarray
    st_arr: np.ndarray
    st_dep: np.ndarray
    st_board: np.ndarray
    st_alight: np.ndarray
    st_seq: np.ndarray
    calendar: pd.DataFrame
    calendar_dates: pd.DataFrame
    transfers: pd.DataFrame
    shape_first: np.ndarray
    shape_lat: np.ndarray
    shape_lon: np.ndarray
    shape_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_trips(self) -> int:
        """Number of trip instances."""
        return int(self.trip_first.shape[0] - 1)

    @property
    def n_stops(self) -> int:
        """Number of boarding places."""
        return len(self.stops)

    def validity(self) -> tuple[dt.date, dt.date]:
        """First and last date on which the calendar defines any service."""
        dates: list[dt.date] = []
        if len(self.calendar):
            dates += [self.calendar["start_date"].min(), self.calendar["end_date"].max()]
        if len(self.calendar_dates):
            added = self.calendar_dates[self.calendar_dates["exception_type"] == 1]
            if len(added):
                dates += [added["date"].min(), added["date"].max()]
        if not dates:
            raise DataError(
                f"{self.source}: neither calendar.txt nor calendar_dates.txt defines any "
                "service day; the feed has no usable calendar"
            )
        return min(dates), max(dates)

    def active_services(self, date: dt.date) -> set[str]:
        """Service ids running on ``date`` (calendar plus calendar_dates exceptions)."""
        cal = self.calendar
        active: set[str] = set()
        if len(cal):
            day = WEEKDAYS[date.weekday()]
            mask = (cal["start_date"] <= date) & (cal["end_date"] >= date) & (cal[day] == 1)
            active = set(cal.loc[mask, "service_id"])
        if len(self.calendar_dates):
            ex = self.calendar_dates[self.calendar_dates["date"] == date]
            active |= set(ex.loc[ex["exception_type"] == 1, "service_id"])
            active -= set(ex.loc[ex["exception_type"] == 2, "service_id"])
        return active


class _Source:
    """Uniform access to the member files of a GTFS zip or folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, str] = {}
        if path.is_dir():
            self._names = {p.name: str(p) for p in path.iterdir() if p.suffix == ".txt"}
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise DataError(
                    f"{path}: not a readable GTFS zip ({exc}); re-download the feed"
                ) from None
            for name in self._zip.namelist():
                base = name.rsplit("/", 1)[-1]
                if base.endswith(".txt") and base not in self._names:
                    self._names[base] = name
        else:
            raise DataError(f"GTFS feed {path} does not exist; run `elster fetch` or fix the path")

    def has(self, name: str) -> bool:
        return name in self._names

    def read(self, name: str, *, required: bool) -> pd.DataFrame | None:
        """Read one member as strings (empty cells as ``""``), or None if absent."""
        if name not in self._names:
            if required:
                raise DataError(
                    f"{self.path}: required file {name} is missing from the GTFS feed; "
                    "use a complete feed"
                )
            return None
        try:
            if self._zip is not None:
                raw = self._zip.read(self._names[name])
            else:
                raw = Path(self._names[name]).read_bytes()
            frame = pd.read_csv(
                io.BytesIO(raw),
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skipinitialspace=True,
            )
        except (pd.errors.ParserError, UnicodeDecodeError, zipfile.BadZipFile, OSError) as exc:
            raise DataError(f"{self.path}: {name} cannot be parsed as CSV ({exc})") from None
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()
        frame.columns = [str(c).strip().lower() for c in frame.columns]
        for column in frame.columns:
            frame[column] = frame[column].str.strip()
        need = [c for c in REQUIRED_COLUMNS.get(name, ()) if c not in frame.columns]
        if need:
            raise DataError(
                f"{self.path}: {name} lacks required column(s) {', '.join(need)} "
                f"(it has: {', '.join(frame.columns) or 'none'}); fix the feed"
            )
        return frame


def _line(row: int) -> int:
    """CSV line number of a 0-based data row (header is line 1)."""
    return int(row) + 2


def parse_time_column(values: pd.Series, file: str, column: str) -> np.ndarray:
    """Parse GTFS ``H:MM:SS`` times (hours may exceed 24) to seconds; ``-1`` where empty.

    Raises
    ------
    DataError
        A non-empty cell is not a valid time; the message names file, line and field.
    """
    text = values.astype(str)
    parts = text.str.extract(r"^(\d{1,3}):([0-5]\d):([0-5]\d)$")
    empty = (text == "").to_numpy()
    bad = parts[0].isna().to_numpy() & ~empty
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{file} line {_line(values.index[row])}: field {column} = {text.iloc[row]!r} is not "
            "a time HH:MM:SS; fix the feed"
        )
    seconds = np.full(len(text), -1, dtype=np.int64)
    ok = ~empty
    if ok.any():
        h = parts[0].to_numpy()[ok].astype(np.int64)
        m = parts[1].to_numpy()[ok].astype(np.int64)
        s = parts[2].to_numpy()[ok].astype(np.int64)
        seconds[ok] = h * 3600 + m * 60 + s
    return seconds


def _parse_int(
    frame: pd.DataFrame, column: str, file: str, *, default: int | None = None
) -> np.ndarray:
    if column not in frame.columns:
        if default is None:
            raise DataError(f"{file}: missing column {column}")
        return np.full(len(frame), default, dtype=np.int64)
    text = frame[column]
    if default is not None:
        text = text.where(text != "", str(default))
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{file} line {_line(frame.index[row])}: field {column} = {frame[column].iloc[row]!r} "
            "is not an integer; fix the feed"
        )
    ints: np.ndarray = numbers.to_numpy().astype(np.int64)
    return ints


def _parse_float(frame: pd.DataFrame, column: str, file: str) -> np.ndarray:
    numbers = pd.to_numeric(frame[column], errors="coerce")
    bad = numbers.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{file} line {_line(frame.index[row])}: field {column} = {frame[column].iloc[row]!r} "
            "is not a number; fix the feed"
        )
    floats: np.ndarray = numbers.to_numpy(dtype=np.float64)
    return floats


def _parse_dates(frame: pd.DataFrame, column: str, file: str) -> list[dt.date]:
    out = []
    for row, text in zip(frame.index, frame[column], strict=True):
        try:
            out.append(dt.datetime.strptime(text, "%Y%m%d").date())
        except ValueError:
            raise DataError(
                f"{file} line {_line(row)}: field {column} = {text!r} is not a date YYYYMMDD; "
                "fix the feed"
            ) from None
    return out


class _Problems:
    """Collect skipped-row warnings (or raise them in strict mode)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.messages: list[str] = []

    def report(self, message: str) -> None:
        if self.strict:
            raise DataError(message)
        log.warning("%s", message)
        self.messages.append(message)


def read_gtfs(
    path: str | Path,
    *,
    agencies: Sequence[str] | None = None,
    routes: Sequence[str] | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    strict: bool = False,
) -> GtfsFeed:
    """Read, validate and filter a GTFS feed.

    Parameters
    ----------
    path : str or Path
        A GTFS zip or a folder of ``.txt`` files.
    agencies : sequence of str, optional
        Keep only routes of these agencies (matched by ``agency_id`` or ``agency_name``).
    routes : sequence of str, optional
        Keep only these routes (matched by ``route_id`` or ``route_short_name``).
    bbox : (min_lon, min_lat, max_lon, max_lat), optional
        Keep only stops inside the box; trips are cut to their stops inside it
        and dropped when fewer than two remain.
    strict : bool
        Raise on problems that would otherwise skip a row or trip with a warning.

    Returns
    -------
    GtfsFeed

    Raises
    ------
    DataError
        Missing file or column, unparsable value, or nothing left after filtering.
    """
    path = Path(path)
    src = _Source(path)
    problems = _Problems(strict)
    agency = src.read("agency.txt", required=False)
    stops_raw = src.read("stops.txt", required=True)
    routes_raw = src.read("routes.txt", required=True)
    trips_raw = src.read("trips.txt", required=True)
    calendar_raw = src.read("calendar.txt", required=False)
    dates_raw = src.read("calendar_dates.txt", required=False)
    if calendar_raw is None and dates_raw is None:
        raise DataError(
            f"{path}: the feed has neither calendar.txt nor calendar_dates.txt; one is required"
        )
    assert stops_raw is not None
    assert routes_raw is not None
    assert trips_raw is not None

    # --- agencies and routes (filters) --------------------------------------------------
    if agency is None:
        agency = pd.DataFrame({"agency_id": [""], "agency_name": [""]})
    if "agency_id" not in agency.columns:
        agency["agency_id"] = ""
    timezone = (
        str(agency["agency_timezone"].iloc[0])
        if "agency_timezone" in agency.columns and len(agency)
        else ""
    )
    if "agency_id" not in routes_raw.columns:
        routes_raw["agency_id"] = agency["agency_id"].iloc[0] if len(agency) else ""
    routes_raw.loc[routes_raw["agency_id"] == "", "agency_id"] = (
        agency["agency_id"].iloc[0] if len(agency) == 1 else ""
    )
    for column in ("route_short_name", "route_long_name"):
        if column not in routes_raw.columns:
            routes_raw[column] = ""
    if agencies:
        wanted = {a.strip().lower() for a in agencies}
        keep_ids = set(
            agency.loc[
                agency["agency_id"].str.lower().isin(wanted)
                | agency["agency_name"].str.lower().isin(wanted),
                "agency_id",
            ]
        )
        if not keep_ids:
            names = ", ".join(
                f"{i} ({n})"
                for i, n in zip(agency["agency_id"], agency["agency_name"], strict=True)
            )
            raise DataError(
                f"{path}: no agency matches {list(agencies)!r}; agency.txt has: {names}"
            )
        agency = agency[agency["agency_id"].isin(keep_ids)]
        routes_raw = routes_raw[routes_raw["agency_id"].isin(keep_ids)]
    if routes:
        wanted = {r.strip() for r in routes}
        routes_raw = routes_raw[
            routes_raw["route_id"].isin(wanted) | routes_raw["route_short_name"].isin(wanted)
        ]
        if not len(routes_raw):
            raise DataError(f"{path}: no route matches {list(routes)!r} in routes.txt")
    route_type = _parse_int(routes_raw, "route_type", "routes.txt")
    route_table = pd.DataFrame(
        {
            "route_id": routes_raw["route_id"].to_numpy(),
            "agency_id": routes_raw["agency_id"].to_numpy(),
            "short_name": routes_raw["route_short_name"].to_numpy(),
            "long_name": routes_raw["route_long_name"].to_numpy(),
            "route_type": route_type,
        }
    )
    dup = route_table["route_id"].duplicated()
    if dup.any():
        problems.report(
            f"routes.txt: duplicate route_id {route_table['route_id'][dup].iloc[0]!r}; "
            "later rows ignored"
        )
        route_table = route_table[~dup].reset_index(drop=True)
    route_index = pd.Series(np.arange(len(route_table)), index=route_table["route_id"])

    # --- stops ----------------------------------------------------------------------------
    stops = _read_stops(stops_raw, bbox, problems)
    stop_index = pd.Series(np.arange(len(stops)), index=stops["stop_id"])

    # --- trips ----------------------------------------------------------------------------
    all_trip_ids = set(trips_raw["trip_id"])
    for column in ("trip_headsign", "shape_id", "direction_id"):
        if column not in trips_raw.columns:
            trips_raw[column] = ""
    trips_raw["wheelchair_accessible"] = _wheelchair_codes(
        trips_raw, "wheelchair_accessible", "trips.txt", problems
    )
    dup = trips_raw["trip_id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        problems.report(
            f"trips.txt line {_line(trips_raw.index[row])}: duplicate trip_id "
            f"{trips_raw['trip_id'].iloc[row]!r}; later rows ignored"
        )
        trips_raw = trips_raw[~dup]
    known_route = trips_raw["route_id"].isin(route_index.index)
    if not (agencies or routes):
        unknown = ~known_route
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            problems.report(
                f"trips.txt line {_line(trips_raw.index[row])}: field route_id = "
                f"{trips_raw['route_id'].iloc[row]!r} is not in routes.txt; "
                f"{int(unknown.sum())} trip(s) skipped"
            )
    trips_raw = trips_raw[known_route]

    # --- shapes -----------------------------------------------------------------------------
    shape_ids, shape_first, shape_lat, shape_lon = _read_shapes(src)
    shape_pos = {sid: k for k, sid in enumerate(shape_ids)}

    # --- stop_times -----------------------------------------------------------------------
    st = src.read("stop_times.txt", required=True)
    assert st is not None
    trip_pos = pd.Series(np.arange(len(trips_raw)), index=trips_raw["trip_id"])
    t_idx = st["trip_id"].map(trip_pos)
    unknown_trip = t_idx.isna() & ~st["trip_id"].isin(all_trip_ids)
    if unknown_trip.any():
        row = int(np.flatnonzero(unknown_trip.to_numpy())[0])
        problems.report(
            f"stop_times.txt line {_line(st.index[row])}: field trip_id = "
            f"{st['trip_id'].iloc[row]!r} is not in trips.txt; "
            f"{int(unknown_trip.sum())} row(s) skipped"
        )
    st = st[t_idx.notna()]
    t_idx = t_idx[t_idx.notna()].astype(np.int64)
    s_idx = st["stop_id"].map(stop_index)
    missing_stop = s_idx.isna()
    if missing_stop.any() and bbox is None:
        row = int(np.flatnonzero(missing_stop.to_numpy())[0])
        problems.report(
            f"stop_times.txt line {_line(st.index[row])}: field stop_id = "
            f"{st['stop_id'].iloc[row]!r} is not a stop in stops.txt; "
            f"{int(missing_stop.sum())} row(s) skipped"
        )
    seq = _parse_int(st, "stop_sequence", "stop_times.txt")
    arr = (
        parse_time_column(st["arrival_time"], "stop_times.txt", "arrival_time")
        if "arrival_time" in st.columns
        else np.full(len(st), -1, np.int64)
    )
    dep = (
        parse_time_column(st["departure_time"], "stop_times.txt", "departure_time")
        if "departure_time" in st.columns
        else np.full(len(st), -1, np.int64)
    )
    pickup = _parse_int(st, "pickup_type", "stop_times.txt", default=0)
    dropoff = _parse_int(st, "drop_off_type", "stop_times.txt", default=0)
    lines = st.index.to_numpy() + 2
    keep = ~missing_stop.to_numpy()
    order = np.lexsort((seq[keep], t_idx.to_numpy()[keep]))
    trip_of = t_idx.to_numpy()[keep][order]
    stop_of = s_idx.to_numpy()[keep][order].astype(np.int64)
    seq = seq[keep][order]
    arr, dep = arr[keep][order], dep[keep][order]
    pickup, dropoff, lines = pickup[keep][order], dropoff[keep][order], lines[keep][order]

    trips_kept, sel, lengths, arr, dep = _clean_trip_times(
        trip_of, seq, arr, dep, lines, trips_raw, problems
    )
    stop_of, pickup, dropoff, seq = stop_of[sel], pickup[sel], dropoff[sel], seq[sel]
    arr, dep = arr[sel], dep[sel]
    trip_first = np.zeros(len(trips_kept) + 1, dtype=np.int64)
    trip_first[1:] = np.cumsum(lengths)
    trip_rows = trips_raw.iloc[trips_kept]
    trip_table = pd.DataFrame(
        {
            "trip_id": trip_rows["trip_id"].to_numpy(),
            "route_idx": trip_rows["route_id"].map(route_index).to_numpy().astype(np.int64),
            "service_id": trip_rows["service_id"].to_numpy(),
            "headsign": trip_rows["trip_headsign"].to_numpy(),
            "shape_idx": trip_rows["shape_id"]
            .map(lambda s: shape_pos.get(s, -1))
            .to_numpy()
            .astype(np.int64),
            "start_time": np.full(len(trip_rows), "", dtype=object),
            "wheelchair": trip_rows["wheelchair_accessible"].to_numpy().astype(np.int8),
        }
    )
    # Stops with a stop_headsign override nothing here; the trip headsign is what riders see.
    trip_table, trip_first, stop_of, arr, dep, pickup, dropoff, seq = _expand_frequencies(
        src, trip_table, trip_first, stop_of, arr, dep, pickup, dropoff, seq
    )
    calendar, calendar_dates = _read_calendar(calendar_raw, dates_raw)
    transfers = _read_transfers(src, stop_index)
    if trip_table.empty:
        what = " after filtering" if (agencies or routes or bbox) else ""
        raise DataError(
            f"{path}: the feed has no usable trips{what}; check the filters and the feed"
        )
    feed = GtfsFeed(
        source=str(path),
        timezone=timezone,
        agencies=agency[["agency_id", "agency_name"]].reset_index(drop=True),
        stops=stops,
        routes=route_table,
        trips=trip_table,
        trip_first=trip_first,
        st_stop=stop_of.astype(np.int32),
        st_arr=arr.astype(np.int32),
        st_dep=dep.astype(np.int32),
        st_board=(pickup != 1),
        st_alight=(dropoff != 1),
        st_seq=seq.astype(np.int32),
        calendar=calendar,
        calendar_dates=calendar_dates,
        transfers=transfers,
        shape_first=shape_first,
        shape_lat=shape_lat,
        shape_lon=shape_lon,
        shape_ids=shape_ids,
        warnings=problems.messages,
    )
    log.info(
        "read GTFS %s: %d stops, %d routes, %d trips, %d stop times%s",
        path.name,
        feed.n_stops,
        len(route_table),
        feed.n_trips,
        len(feed.st_stop),
        f" ({len(problems.messages)} problem(s) skipped)" if problems.messages else "",
    )
    return feed


def _read_stops(
    raw: pd.DataFrame, bbox: tuple[float, float, float, float] | None, problems: _Problems
) -> pd.DataFrame:
    for column in ("stop_name", "parent_station", "location_type"):
        if column not in raw.columns:
            raw[column] = ""
    for column in ("stop_lat", "stop_lon"):
        if column not in raw.columns:
            raise DataError(f"stops.txt lacks required column {column}; fix the feed")
    loc_type = _parse_int(raw, "location_type", "stops.txt", default=0)
    raw["wheelchair_boarding"] = _wheelchair_codes(
        raw, "wheelchair_boarding", "stops.txt", problems
    )
    dup = raw["stop_id"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        problems.report(
            f"stops.txt line {_line(raw.index[row])}: duplicate stop_id "
            f"{raw['stop_id'].iloc[row]!r}; ignored"
        )
    stations = raw[(loc_type == 1) & ~dup]
    station_name = dict(zip(stations["stop_id"], stations["stop_name"], strict=True))
    platforms = raw[(loc_type == 0) & ~dup].copy()
    lat = _parse_float(platforms, "stop_lat", "stops.txt")
    lon = _parse_float(platforms, "stop_lon", "stops.txt")
    bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"stops.txt line {_line(platforms.index[row])}: stop_lat/stop_lon "
            f"({lat[row]}, {lon[row]}) is not a WGS84 coordinate; fix the feed"
        )
    table = pd.DataFrame(
        {
            "stop_id": platforms["stop_id"].to_numpy(),
            "stop_name": platforms["stop_name"].to_numpy(),
            "lat": lat,
            "lon": lon,
            "parent_station": platforms["parent_station"].to_numpy(),
        }
    )
    table["station_name"] = [
        station_name.get(p, n) or n
        for p, n in zip(table["parent_station"], table["stop_name"], strict=True)
    ]
    # wheelchair_boarding 0/empty on a platform means "as its parent station" (GTFS reference).
    station_access = dict(zip(stations["stop_id"], stations["wheelchair_boarding"], strict=True))
    own = platforms["wheelchair_boarding"].to_numpy().astype(np.int8)
    inherited = np.array(
        [station_access.get(p, 0) for p in table["parent_station"]], dtype=np.int8
    ).reshape(own.shape)
    table["wheelchair"] = np.where(own == 0, inherited, own).astype(np.int8)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        inside = (
            (table["lat"] >= min_lat)
            & (table["lat"] <= max_lat)
            & (table["lon"] >= min_lon)
            & (table["lon"] <= max_lon)
        )
        table = table[inside]
    return table.reset_index(drop=True)


def _wheelchair_codes(
    frame: pd.DataFrame, column: str, file: str, problems: _Problems
) -> np.ndarray:
    """GTFS accessibility codes 0 (no information), 1 (accessible), 2 (not); bad values -> 0."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=np.int8)
    text = frame[column].astype(str).str.strip()
    codes = pd.to_numeric(text.where(text != "", "0"), errors="coerce")
    bad = codes.isna() | ~codes.isin([0, 1, 2])
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        problems.report(
            f"{file} line {_line(frame.index[row])}: field {column} = {text.iloc[row]!r} is not "
            f"0, 1 or 2; treated as 0 (no information) in {int(bad.sum())} row(s)"
        )
    cleaned: np.ndarray = codes.where(~bad, 0).to_numpy().astype(np.int8)
    return cleaned


def _clean_trip_times(
    trip_of: np.ndarray,
    seq: np.ndarray,
    arr: np.ndarray,
    dep: np.ndarray,
    lines: np.ndarray,
    trips_raw: pd.DataFrame,
    problems: _Problems,
) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fill missing times, check monotonicity; return kept trips and their time arrays.

    Returns the kept trip positions, offsets (``first``) into the *filtered*
    arrays of kept trips, and arrival/departure with gaps interpolated.
    """
    n = len(trip_of)
    arr = np.where(arr < 0, dep, arr)
    dep = np.where(dep < 0, arr, dep)
    boundaries = np.flatnonzero(np.diff(trip_of)) + 1
    starts = np.concatenate(([0], boundaries)) if n else np.zeros(0, np.int64)
    ends = np.concatenate((boundaries, [n])) if n else np.zeros(0, np.int64)
    keep_trips: list[int] = []
    keep_rows: list[np.ndarray] = []
    trip_ids = trips_raw["trip_id"].to_numpy()
    for a, b in zip(starts, ends, strict=True):
        t = int(trip_of[a])
        if b - a < 2:
            continue  # a single stop cannot be ridden (common after a bbox cut)
        if np.any(np.diff(seq[a:b]) == 0):
            k = a + int(np.flatnonzero(np.diff(seq[a:b]) == 0)[0]) + 1
            problems.report(
                f"stop_times.txt line {lines[k]}: field stop_sequence repeats within trip "
                f"{trip_ids[t]!r}; trip skipped"
            )
            continue
        ta, td = arr[a:b], dep[a:b]
        if ta[0] < 0 or ta[-1] < 0:
            k = a if ta[0] < 0 else b - 1
            problems.report(
                f"stop_times.txt line {lines[k]}: field arrival_time/departure_time is empty "
                "at the "
                f"first or last stop of trip {trip_ids[t]!r}; trip skipped"
            )
            continue
        missing = ta < 0
        if missing.any():
            known = np.flatnonzero(~missing)
            fill = np.interp(np.flatnonzero(missing), known, ta[known]).astype(np.int64)
            ta = ta.copy()
            td = td.copy()
            ta[missing] = fill
            td[missing] = fill
            arr[a:b], dep[a:b] = ta, td
        back_dwell = td < ta
        back_run = np.zeros(b - a, dtype=bool)
        back_run[1:] = ta[1:] < td[:-1]
        if back_dwell.any() or back_run.any():
            k = int(np.flatnonzero(back_dwell | back_run)[0])
            fieldname = "departure_time" if back_dwell[k] else "arrival_time"
            problems.report(
                f"stop_times.txt line {lines[a + k]}: field {fieldname} goes back in time "
                "within trip "
                f"{trip_ids[t]!r}; trip skipped"
            )
            continue
        keep_trips.append(t)
        keep_rows.append(np.arange(a, b))
    rows = np.concatenate(keep_rows) if keep_rows else np.zeros(0, np.int64)
    lengths = np.array([len(r) for r in keep_rows], dtype=np.int64)
    return keep_trips, rows, lengths, arr, dep


def _read_calendar(
    calendar_raw: pd.DataFrame | None, dates_raw: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    if calendar_raw is not None and len(calendar_raw):
        cal = pd.DataFrame({"service_id": calendar_raw["service_id"].to_numpy()})
        for day in WEEKDAYS:
            cal[day] = _parse_int(calendar_raw, day, "calendar.txt")
        cal["start_date"] = _parse_dates(calendar_raw, "start_date", "calendar.txt")
        cal["end_date"] = _parse_dates(calendar_raw, "end_date", "calendar.txt")
    else:
        cal = pd.DataFrame(columns=["service_id", *WEEKDAYS, "start_date", "end_date"])
    if dates_raw is not None and len(dates_raw):
        dates = pd.DataFrame(
            {
                "service_id": dates_raw["service_id"].to_numpy(),
                "date": _parse_dates(dates_raw, "date", "calendar_dates.txt"),
                "exception_type": _parse_int(dates_raw, "exception_type", "calendar_dates.txt"),
            }
        )
        bad = ~dates["exception_type"].isin([1, 2])
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"calendar_dates.txt line {_line(row)}: field exception_type = "
                f"{dates['exception_type'].iloc[row]} must be 1 (added) or 2 (removed)"
            )
    else:
        dates = pd.DataFrame(columns=["service_id", "date", "exception_type"])
    return cal, dates


def _read_transfers(src: _Source, stop_index: pd.Series) -> pd.DataFrame:
    raw = src.read("transfers.txt", required=False)
    empty = pd.DataFrame(
        {"from_idx": [], "to_idx": [], "transfer_type": [], "min_transfer_time": []}
    )
    if raw is None or not len(raw):
        return empty
    f = raw["from_stop_id"].map(stop_index)
    t = raw["to_stop_id"].map(stop_index)
    ok = (f.notna() & t.notna()).to_numpy()
    raw = raw[ok]
    return pd.DataFrame(
        {
            "from_idx": f[ok].to_numpy().astype(np.int64),
            "to_idx": t[ok].to_numpy().astype(np.int64),
            "transfer_type": _parse_int(raw, "transfer_type", "transfers.txt", default=0),
            "min_transfer_time": _parse_int(raw, "min_transfer_time", "transfers.txt", default=-1),
        }
    )


def _read_shapes(src: _Source) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    raw = src.read("shapes.txt", required=False)
    if raw is None or not len(raw):
        return [], np.zeros(1, np.int64), np.zeros(0), np.zeros(0)
    seq = _parse_int(raw, "shape_pt_sequence", "shapes.txt")
    lat = _parse_float(raw, "shape_pt_lat", "shapes.txt")
    lon = _parse_float(raw, "shape_pt_lon", "shapes.txt")
    codes, ids = pd.factorize(raw["shape_id"])
    order = np.lexsort((seq, codes))
    counts = np.bincount(codes, minlength=len(ids))
    first = np.zeros(len(ids) + 1, dtype=np.int64)
    first[1:] = np.cumsum(counts)
    return [str(s) for s in ids], first, lat[order], lon[order]


def _expand_frequencies(
    src: _Source,
    trips: pd.DataFrame,
    trip_first: np.ndarray,
    stop_of: np.ndarray,
    arr: np.ndarray,
    dep: np.ndarray,
    pickup: np.ndarray,
    dropoff: np.ndarray,
    seq: np.ndarray,
) -> tuple[
    pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
    np.ndarray,
]:  # fmt: skip
    """Replace each frequency-based trip by one instance per departure in its windows."""
    freq = src.read("frequencies.txt", required=False)
    if freq is None or not len(freq):
        return trips, trip_first, stop_of, arr, dep, pickup, dropoff, seq
    start = parse_time_column(freq["start_time"], "frequencies.txt", "start_time")
    end = parse_time_column(freq["end_time"], "frequencies.txt", "end_time")
    headway = _parse_int(freq, "headway_secs", "frequencies.txt")
    bad = (headway <= 0) | (start < 0) | (end < start)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"frequencies.txt line {_line(row)}: start_time/end_time/headway_secs do not form a "
            "window with a positive headway; fix the feed"
        )
    pos = {tid: i for i, tid in enumerate(trips["trip_id"])}
    instances: dict[int, list[int]] = {}
    for tid, s, e, h in zip(freq["trip_id"], start, end, headway, strict=True):
        if tid in pos:
            instances.setdefault(pos[tid], []).extend(range(int(s), int(e), int(h)))
    new_rows, spans, shifts, starts = [], [], [], []
    for t in range(len(trips)):
        a, b = int(trip_first[t]), int(trip_first[t + 1])
        if t in instances:
            base = int(dep[a])
            for s0 in sorted(set(instances[t])):
                new_rows.append(t)
                spans.append((a, b))
                shifts.append(s0 - base)
                starts.append(f"{s0 // 3600:02d}:{s0 % 3600 // 60:02d}:{s0 % 60:02d}")
        else:
            new_rows.append(t)
            spans.append((a, b))
            shifts.append(0)
            starts.append("")
    sel = np.concatenate([np.arange(a, b) for a, b in spans])
    shift = np.concatenate(
        [np.full(b - a, s, np.int64) for (a, b), s in zip(spans, shifts, strict=True)]
    )
    out = trips.iloc[new_rows].reset_index(drop=True)
    out["start_time"] = starts
    first = np.zeros(len(spans) + 1, dtype=np.int64)
    first[1:] = np.cumsum([b - a for a, b in spans])
    log.info(
        "expanded %d frequency-based trip(s) into %d instances",
        len(instances),
        sum(len(set(v)) for v in instances.values()),
    )
    return (
        out,
        first,
        stop_of[sel],
        arr[sel] + shift,
        dep[sel] + shift,
        pickup[sel],
        dropoff[sel],
        seq[sel],
    )


def parse_date(value: str | dt.date) -> dt.date:
    """Parse ``YYYY-MM-DD`` or ``YYYYMMDD`` (or pass a date through)."""
    if isinstance(value, dt.date):
        return value
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(str(value), fmt).date()
        except ValueError:
            continue
    raise DataError(f"date {value!r} is not YYYY-MM-DD")


def feed_filters_from_options(
    options: dict[str, Any], bbox: Iterable[float] | None
) -> dict[str, Any]:
    """Translate a region's ``[sources.gtfs]`` options into :func:`read_gtfs` filters."""
    out: dict[str, Any] = {}
    if options.get("agencies"):
        out["agencies"] = [str(a) for a in options["agencies"]]
    if options.get("routes"):
        out["routes"] = [str(r) for r in options["routes"]]
    if options.get("clip_to_bbox") and bbox is not None:
        out["bbox"] = tuple(float(v) for v in bbox)
    return out
