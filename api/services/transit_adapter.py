"""Read-only views of the loaded timetable for the API: stops, departure boards, line layer.

Planning is not done here (``/plan`` calls :func:`routing.planner.plan`); these
are lookups straight from the timetable arrays that have no core equivalent.
Every function takes the :class:`~routing.transit.timetable.Timetable` to read
(the loaded one, or a realtime snapshot's), never the server state.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import numpy as np

from api.errors import NotFoundError
from api.services.geojson import collection, feature, line, point
from routing.geo import haversine_m
from routing.transit.timetable import Timetable

logger = logging.getLogger(__name__)

_LINE_COLORS = {"TRAM": "#c0392b", "BUS": "#d68910", "RAIL": "#1f5fa8", "SUBWAY": "#1f5fa8"}


# -- stops and departures ---------------------------------------------------------------------


def _stop_dict(tt: Timetable, s: int, distance: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(tt.stop_ids[s]),
        "name": str(tt.stop_names[s]),
        "lat": round(float(tt.stop_lat[s]), 7),
        "lon": round(float(tt.stop_lon[s]), 7),
        "parentStation": str(tt.stop_station_ids[s]) or None,
        "routes": stop_routes(tt, s),
    }
    if distance is not None:
        out["distance"] = round(distance, 1)
    return out


def stop_routes(tt: Timetable, s: int) -> list[str]:
    """Short names of the lines calling at stop ``s`` (sorted, unique).

    Parameters
    ----------
    tt : Timetable
        The timetable to read.
    s : int
        The stop index.
    """
    a, b = int(tt.stop_route_first[s]), int(tt.stop_route_first[s + 1])
    names: set[str] = set()
    for r in tt.stop_routes[a:b].tolist():
        first = int(tt.route_trip_first[r])
        if first < int(tt.route_trip_first[r + 1]):
            names.add(str(tt.route_short_names[tt.trip_gtfs_route[first]]))
    return sorted(names)


def find_stops(
    tt: Timetable,
    *,
    lat: float | None,
    lon: float | None,
    radius: float,
    name: str | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Stops near a point (nearest first) and/or whose name contains ``name``.

    Parameters
    ----------
    tt : Timetable
        The timetable to read.
    lat, lon : float or None
        The point (both or neither).
    radius : float
        Metres around the point.
    name : str or None
        Part of the stop name (case-insensitive).
    limit : int
        Most stops answered.
    """
    keep = np.ones(tt.n_stops, dtype=bool)
    if name:
        needle = name.casefold()
        keep &= np.array([needle in str(n).casefold() for n in tt.stop_names], dtype=bool)
    distance = None
    if lat is not None and lon is not None:
        distance = haversine_m(lat, lon, tt.stop_lat, tt.stop_lon)
        keep &= distance <= radius
    idx = np.flatnonzero(keep)
    if distance is not None:
        idx = idx[np.argsort(distance[idx], kind="stable")]
    else:
        idx = idx[np.argsort(tt.stop_names[idx], kind="stable")]
    return [
        _stop_dict(tt, int(s), None if distance is None else float(distance[s]))
        for s in idx[:limit]
    ]


def stop_by_id(tt: Timetable, stop_id: str) -> int:
    """Index of a stop id or a 404-style error naming how to find ids.

    Parameters
    ----------
    tt : Timetable
        The timetable to read.
    stop_id : str
        The GTFS stop id.
    """
    hits = np.flatnonzero(tt.stop_ids == stop_id)
    if not hits.size:
        raise NotFoundError(
            f"no stop {stop_id!r} in the timetable", fix="find stop ids with GET /api/v1/stops"
        )
    return int(hits[0])


def stop_info(tt: Timetable, s: int) -> dict[str, Any]:
    """One stop as a dict (id, name, position, parent station, lines).

    Parameters
    ----------
    tt : Timetable
        The timetable to read.
    s : int
        The stop index.
    """
    return _stop_dict(tt, s)


def departures(tt: Timetable, s: int, when: datetime, limit: int) -> list[dict[str, Any]]:
    """The next ``limit`` boardable departures at stop ``s`` from ``when`` on.

    Parameters
    ----------
    tt : Timetable
        The timetable to read: the loaded one, or a realtime snapshot's (it shares
        the loaded one's stops).
    s : int
        The stop index.
    when : datetime
        The earliest departure.
    limit : int
        Most departures answered.
    """
    t0 = tt.to_seconds(when)
    a, b = int(tt.stop_route_first[s]), int(tt.stop_route_first[s + 1])
    rows: list[tuple[int, int, int]] = []  # (departure, slot, position)
    for r, pos in zip(tt.stop_routes[a:b].tolist(), tt.stop_route_pos[a:b].tolist(), strict=True):
        n = int(tt.route_stop_first[r + 1] - tt.route_stop_first[r])
        if pos == n - 1:
            continue  # the last stop of a pattern: nobody boards there
        first_slot, end_slot = int(tt.route_trip_first[r]), int(tt.route_trip_first[r + 1])
        cells = int(tt.route_time_first[r]) + np.arange(end_slot - first_slot) * n + pos
        dep = tt.dep[cells]
        ok = np.flatnonzero((dep >= t0) & tt.board[cells])
        rows.extend((int(dep[i]), first_slot + int(i), pos) for i in ok[:limit].tolist())
    rows.sort()
    out = []
    for dep, slot, pos in rows[:limit]:
        stops, _, _ = tt.slot_times(slot)
        g = int(tt.trip_gtfs_route[slot])
        out.append(
            {
                "time": tt.to_datetime(dep).isoformat(),
                "mode": tt.slot_mode(slot),
                "routeId": str(tt.route_ids[g]),
                "routeShortName": str(tt.route_short_names[g]),
                "headsign": str(tt.trip_headsigns[slot]) or str(tt.stop_names[stops[-1]]),
                "tripId": str(tt.trip_ids[slot]),
                "lastStop": str(tt.stop_names[stops[-1]]),
                "stopsLeft": int(len(stops) - 1 - pos),
            }
        )
    return out


# -- map layer ------------------------------------------------------------------------------


def lines_geojson(tt: Timetable) -> dict[str, Any]:
    """Every line once: the longest stop pattern of each GTFS route, with its stops.

    Parameters
    ----------
    tt : Timetable
        The timetable to read.
    """
    best: dict[int, tuple[int, int]] = {}  # gtfs route -> (n stops, RAPTOR route)
    for r in range(tt.n_routes):
        first = int(tt.route_trip_first[r])
        if first >= int(tt.route_trip_first[r + 1]):
            continue
        g = int(tt.trip_gtfs_route[first])
        n = int(tt.route_stop_first[r + 1] - tt.route_stop_first[r])
        if g not in best or n > best[g][0]:
            best[g] = (n, r)
    features = []
    used_stops: set[int] = set()
    for g, (_, r) in sorted(best.items()):
        stops = tt.route_stops[int(tt.route_stop_first[r]) : int(tt.route_stop_first[r + 1])]
        used_stops.update(int(s) for s in stops)
        mode = tt.slot_mode(int(tt.route_trip_first[r]))
        features.append(
            feature(
                line(tt.stop_lat[stops], tt.stop_lon[stops]),
                {
                    "routeId": str(tt.route_ids[g]),
                    "routeShortName": str(tt.route_short_names[g]),
                    "routeLongName": str(tt.route_long_names[g]),
                    "mode": mode,
                    "color": _LINE_COLORS.get(mode, "#1f5fa8"),
                },
            )
        )
    for s in sorted(used_stops):
        features.append(
            feature(
                point(tt.stop_lat[s], tt.stop_lon[s]),
                {"stopId": str(tt.stop_ids[s]), "name": str(tt.stop_names[s])},
            )
        )
    return collection(features)
