# ruff: noqa: E501  (GTFS column lists and rows read best one per line)
"""Publish a service: a fixed line as GTFS, an on-demand zone as GTFS-Flex v2.

The fixed-line feed has ``agency``, ``stops``, ``routes``, ``trips`` (a trip
per direction and round: ``direction_id`` 0 from the hub, 1 towards it, the
round's vehicle as ``block_id``), ``stop_times`` (the timetable of
:mod:`fleet.concepts.line`), ``calendar``, ``shapes`` (the driven road path,
one per direction) and ``feed_info``. The zone feed follows
GTFS-Flex v2 (in the GTFS reference since 2024): the zone polygon in
``locations.geojson``, a ``booking_rules.txt`` rule (real-time booking, or
same-day with a minimum notice), and a trip whose two ``stop_times`` rows
name the zone with ``start_pickup_drop_off_window`` /
``end_pickup_drop_off_window`` (pickup anywhere in the zone, drop-off
anywhere in the zone), as OpenTripPlanner and MOTIS read it.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from fleet.concepts.gtfs_rules import FeedReport, check_feed
from fleet.concepts.line import LineTimetable

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def gtfs_time(seconds: float) -> str:
    """``HH:MM:SS`` of service-day seconds (past 24:00 allowed)."""
    s = round(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _csv(rows: Sequence[Mapping[str, Any]], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({c: r.get(c, "") for c in columns})
    return buf.getvalue()


def _write_zip(path: Path, files: Mapping[str, str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    tmp.replace(path)
    return path


def _service(day: date, days: int, weekdays: tuple[str, ...]) -> dict:
    row: dict[str, object] = {w: int(w in weekdays) for w in WEEKDAYS}
    row.update(
        service_id="weekday",
        start_date=day.strftime("%Y%m%d"),
        end_date=(day + timedelta(days=days)).strftime("%Y%m%d"),
    )
    return row


def _agency(name: str, url: str, timezone: str) -> str:
    return _csv(
        [{"agency_id": "elster", "agency_name": name, "agency_url": url, "agency_timezone": timezone,
          "agency_lang": "de"}],
        ["agency_id", "agency_name", "agency_url", "agency_timezone", "agency_lang"],
    )  # fmt: skip


def export_line_gtfs(
    timetable: LineTimetable,
    travel,
    path: Path,
    *,
    route_name: str,
    start: date,
    timezone: str = "Europe/Berlin",
    agency: str = "GVB Gera (Elster export)",
    agency_url: str = "https://www.gvbgera.de",
    days: int = 365,
    weekdays: tuple[str, ...] = WEEKDAYS[:5],
    prefix: str = "feeder",
) -> Path:
    """Write a GTFS zip of the line's timetable (see module docstring)."""
    line = timetable.line
    stops = [
        {"stop_id": f"{prefix}:{sid}", "stop_name": name, "stop_lat": f"{la:.6f}",
         "stop_lon": f"{lo:.6f}", "wheelchair_boarding": 1}
        for sid, name, la, lo in zip(line.stop_ids, line.stop_names, line.lat, line.lon, strict=True)
    ]  # fmt: skip
    route_id = f"{prefix}:R1"
    k = line.far
    routes = [{"route_id": route_id, "agency_id": "elster", "route_short_name": route_name,
               "route_long_name": f"{line.stop_names[0]} - {line.stop_names[k]}", "route_type": 3}]  # fmt: skip
    shape_rows = []
    cum: list[np.ndarray] = []  # per direction: distance travelled at each of its positions
    for d, positions in enumerate((range(k + 1), range(k, 2 * k + 1))):
        shape_id, seq, dist = f"{prefix}:S{d}", 0, 0.0
        at = [0.0]
        for p in list(positions)[:-1]:
            pth = travel.path(line.position_loc(p), line.position_loc(p + 1))
            for i, v in enumerate(pth.locations):
                if seq > 0 and i == 0:
                    continue
                la, lo = travel.coords(int(v))
                shape_rows.append(
                    {"shape_id": shape_id, "shape_pt_lat": f"{la:.6f}", "shape_pt_lon": f"{lo:.6f}",
                     "shape_pt_sequence": seq, "shape_dist_traveled": f"{dist + pth.metres[i]:.1f}"}
                )  # fmt: skip
                seq += 1
            dist += float(pth.metres[-1])
            at.append(dist)
        cum.append(np.asarray(at))
    trips, stop_times = [], []
    for j in range(timetable.n_trips):
        for d in (0, 1):
            tid = f"{prefix}:T{j + 1:04d}{'ab'[d]}"
            sequence, arr, dep = timetable.direction(j, d)
            last = len(sequence) - 1
            trips.append({"route_id": route_id, "service_id": "weekday", "trip_id": tid,
                          "trip_headsign": line.stop_names[sequence[-1]], "direction_id": d,
                          "shape_id": f"{prefix}:S{d}",
                          "block_id": f"{prefix}:V{timetable.vehicle_of(j) + 1}",
                          "wheelchair_accessible": 1})  # fmt: skip
            for i, stop in enumerate(sequence):
                stop_times.append(
                    {"trip_id": tid, "arrival_time": gtfs_time(arr[i]), "departure_time": gtfs_time(dep[i]),
                     "stop_id": stops[stop]["stop_id"], "stop_sequence": i + 1,
                     "pickup_type": 1 if i == last else 0, "drop_off_type": 1 if i == 0 else 0,
                     "shape_dist_traveled": f"{cum[d][i]:.1f}", "timepoint": 1}
                )  # fmt: skip
    files = {
        "agency.txt": _agency(agency, agency_url, timezone),
        "stops.txt": _csv(stops, ["stop_id", "stop_name", "stop_lat", "stop_lon", "wheelchair_boarding"]),
        "routes.txt": _csv(routes, ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"]),
        "trips.txt": _csv(trips, ["route_id", "service_id", "trip_id", "trip_headsign", "direction_id", "shape_id", "block_id", "wheelchair_accessible"]),
        "stop_times.txt": _csv(stop_times, ["trip_id", "arrival_time", "departure_time", "stop_id", "stop_sequence", "pickup_type", "drop_off_type", "shape_dist_traveled", "timepoint"]),
        "calendar.txt": _csv([_service(start, days, weekdays)], ["service_id", *WEEKDAYS, "start_date", "end_date"]),
        "shapes.txt": _csv(shape_rows, ["shape_id", "shape_pt_lat", "shape_pt_lon", "shape_pt_sequence", "shape_dist_traveled"]),
        "feed_info.txt": _csv([{"feed_publisher_name": agency, "feed_publisher_url": agency_url, "feed_lang": "de",
                                "feed_start_date": start.strftime("%Y%m%d"),
                                "feed_end_date": (start + timedelta(days=days)).strftime("%Y%m%d"),
                                "feed_version": f"elster-{route_name}"}],
                              ["feed_publisher_name", "feed_publisher_url", "feed_lang", "feed_start_date", "feed_end_date", "feed_version"]),
    }  # fmt: skip
    return _write_zip(Path(path), files)


def export_zone_flex(
    zone,
    path: Path,
    *,
    name: str,
    start: date,
    service: tuple[float, float],
    timezone: str = "Europe/Berlin",
    agency: str = "GVB Gera (Elster export)",
    agency_url: str = "https://www.gvbgera.de",
    phone: str = "",
    booking_url: str = "",
    prior_notice_min: int = 0,
    days: int = 365,
    weekdays: tuple[str, ...] = WEEKDAYS[:5],
    prefix: str = "flex",
    mean_duration_factor: float = 1.5,
    mean_duration_offset_min: float = 5.0,
) -> Path:
    """Write a GTFS-Flex v2 zip of an on-demand zone (see module docstring).

    Parameters
    ----------
    zone : shapely Polygon or MultiPolygon (lon, lat)
    service : (start, end)
        Service hours in seconds after midnight.
    prior_notice_min : int
        0: real-time booking (``booking_type`` 0); otherwise same-day booking
        with this minimum notice (``booking_type`` 1).
    mean_duration_factor, mean_duration_offset_min : float
        The promise on in-vehicle time (``alpha``, ``beta``), published as the
        trip's ``mean_duration_factor``/``mean_duration_offset`` (Flex v2 safe durations).
    """
    geom = zone.__geo_interface__
    location_id = f"{prefix}:zone"
    locations = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "id": location_id,
                      "properties": {"stop_name": name, "stop_desc": "On-demand zone"},
                      "geometry": json.loads(json.dumps(geom))}],
    }  # fmt: skip
    rule = {"booking_rule_id": f"{prefix}:book", "booking_type": 0 if prior_notice_min <= 0 else 1,
            "prior_notice_duration_min": prior_notice_min if prior_notice_min > 0 else "",
            "message": f"Book the {name} shuttle in the app or by phone.",
            "phone_number": phone, "booking_url": booking_url}  # fmt: skip
    route_id = f"{prefix}:R1"
    tid = f"{prefix}:T1"
    window = (gtfs_time(service[0]), gtfs_time(service[1]))
    stop_times = [
        {"trip_id": tid, "location_id": location_id, "stop_sequence": seq,
         "start_pickup_drop_off_window": window[0], "end_pickup_drop_off_window": window[1],
         "pickup_type": pick, "drop_off_type": drop,
         "pickup_booking_rule_id": f"{prefix}:book", "drop_off_booking_rule_id": f"{prefix}:book",
         "mean_duration_factor": mean_duration_factor, "mean_duration_offset": mean_duration_offset_min,
         "safe_duration_factor": mean_duration_factor, "safe_duration_offset": mean_duration_offset_min}
        for seq, pick, drop in ((1, 2, 1), (2, 1, 2))
    ]  # fmt: skip
    files = {
        "agency.txt": _agency(agency, agency_url, timezone),
        "routes.txt": _csv([{"route_id": route_id, "agency_id": "elster", "route_short_name": name,
                             "route_long_name": f"{name} on demand", "route_type": 715}],
                           ["route_id", "agency_id", "route_short_name", "route_long_name", "route_type"]),
        "trips.txt": _csv([{"route_id": route_id, "service_id": "weekday", "trip_id": tid}],
                          ["route_id", "service_id", "trip_id"]),
        "stop_times.txt": _csv(stop_times, ["trip_id", "location_id", "stop_sequence",
                                            "start_pickup_drop_off_window", "end_pickup_drop_off_window",
                                            "pickup_type", "drop_off_type", "pickup_booking_rule_id",
                                            "drop_off_booking_rule_id", "mean_duration_factor",
                                            "mean_duration_offset", "safe_duration_factor",
                                            "safe_duration_offset"]),
        "calendar.txt": _csv([_service(start, days, weekdays)], ["service_id", *WEEKDAYS, "start_date", "end_date"]),
        "booking_rules.txt": _csv([rule], ["booking_rule_id", "booking_type", "prior_notice_duration_min",
                                           "message", "phone_number", "booking_url"]),
        "locations.geojson": json.dumps(locations),
    }  # fmt: skip
    return _write_zip(Path(path), files)


def validate_gtfs(
    path: Path, *, today: date | None = None, report_dir: Path | None = None
) -> FeedReport:
    """The canonical GTFS rules and Elster's own over a fixed-route feed.

    See :func:`fleet.concepts.gtfs_rules.check_feed`: MobilityData's rule set
    (the ``gtfs-validator`` package), gtfs-kit reading and timing every trip,
    and Elster's strict importer. Returns a ``FeedReport``; its ``errors``
    refuse the publication.
    """
    return check_feed(path, today=today, report_dir=report_dir)


def validate_flex(
    path: Path, *, today: date | None = None, report_dir: Path | None = None
) -> FeedReport:
    """The canonical GTFS and GTFS-Flex v2 rules over a zone feed (a ``FeedReport``).

    The canonical rule set covers Flex v2: ``locations.geojson``, every
    ``location_id`` and booking rule defined, windows with start before end,
    ``pickup_type``/``drop_off_type`` not 0 with a window, booking fields.
    """
    return check_feed(path, flex=True, today=today, report_dir=report_dir)


def merge_feeds(base: Path, extra: Path, out: Path) -> Path:
    """A zip with the tables of ``base`` and ``extra`` concatenated (ids must not collide).

    Used for the round trip: the region's feed plus the exported feeder line,
    read by Elster's importer as one network. Tables only one feed has are kept;
    ``feed_info.txt`` is taken from ``base``.
    """
    import pandas as pd

    frames: dict[str, list] = {}
    for src in (base, extra):
        with zipfile.ZipFile(src) as z:
            for name in z.namelist():
                if not name.endswith(".txt") or (src == extra and name == "feed_info.txt"):
                    continue
                frames.setdefault(name, []).append(pd.read_csv(z.open(name), dtype=str))
    files = {}
    for name, parts in frames.items():
        buf = io.StringIO()
        pd.concat(parts, ignore_index=True).to_csv(buf, index=False)
        files[name] = buf.getvalue()
    return _write_zip(Path(out), files)


__all__ = [
    "export_line_gtfs",
    "export_zone_flex",
    "gtfs_time",
    "merge_feeds",
    "validate_flex",
    "validate_gtfs",
]
