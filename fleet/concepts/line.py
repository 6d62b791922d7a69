"""A feeder line: stops in order from the hub around the zone and back, and its timetable.

The line is a loop ``hub -> s1 -> ... -> sk -> hub``. Run times are the road
model's times between consecutive stops; the timetable pads them by
``slack_share`` (the slack a flex route spends on deviations), rounds up to
whole seconds and adds a dwell at every stop. A vehicle needs
``trip time + layover`` for a round (the cycle time), so a headway ``h`` needs
``ceil(cycle / h)`` vehicles; vehicle ``v`` runs trips ``v, v + n, v + 2n, ...``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

from routing.errors import DataError, SnapError
from routing.geo import LocalPlane


@dataclass(frozen=True)
class FeederLine:
    """Stops of a loop line (stop 0 is the hub) with road run times.

    Attributes
    ----------
    stop_ids, stop_names : tuple of str
    lat, lon : ndarray
        Stop coordinates (the street point the vehicle serves).
    loc : ndarray of int64
        Travel-model location of each stop.
    run_s, run_m : ndarray
        Road time and distance from stop ``i`` to ``i + 1`` (the last one back to the hub).
    dwell_s, slack_share, layover_s : float
        Timetable allowances.
    """

    stop_ids: tuple[str, ...]
    stop_names: tuple[str, ...]
    lat: np.ndarray
    lon: np.ndarray
    loc: np.ndarray
    run_s: np.ndarray
    run_m: np.ndarray
    dwell_s: float
    slack_share: float
    layover_s: float

    @property
    def n_stops(self) -> int:
        """Stops including the hub (positions on a trip: ``n_stops + 1``, the hub twice)."""
        return len(self.stop_ids)

    @property
    def sched_run_s(self) -> np.ndarray:
        """Scheduled run time per segment: road time padded by the slack, whole seconds."""
        return np.ceil(self.run_s * (1.0 + self.slack_share))

    def offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Scheduled (arrival, departure) offsets of the positions ``0 .. n_stops`` of a trip."""
        n = self.n_stops
        arr = np.zeros(n + 1)
        dep = np.zeros(n + 1)
        run = self.sched_run_s
        for p in range(1, n + 1):
            arr[p] = dep[p - 1] + run[p - 1]
            dep[p] = arr[p] + (self.dwell_s if p < n else 0.0)
        return arr, dep

    @property
    def trip_s(self) -> float:
        """Scheduled time from leaving the hub to arriving back."""
        return float(self.offsets()[0][-1])

    @property
    def cycle_s(self) -> float:
        """Trip time plus the minimum layover at the hub."""
        return self.trip_s + self.layover_s

    @property
    def length_m(self) -> float:
        """Driven length of one round."""
        return float(self.run_m.sum())

    def position_loc(self, p: int) -> int:
        """Location of trip position ``p`` (position ``n_stops`` is the hub again)."""
        return int(self.loc[p % self.n_stops])


@dataclass(frozen=True)
class LineTimetable:
    """Departures of a line through the service hours.

    Attributes
    ----------
    line : FeederLine
    headway_s : float
    departures : ndarray
        Hub departures, seconds after local midnight.
    n_vehicles : int
    """

    line: FeederLine
    headway_s: float
    departures: np.ndarray
    n_vehicles: int

    @property
    def n_trips(self) -> int:
        """Number of trips."""
        return int(self.departures.size)

    def vehicle_of(self, trip: int) -> int:
        """The vehicle that runs ``trip``."""
        return trip % self.n_vehicles

    def times(self, trip: int) -> tuple[np.ndarray, np.ndarray]:
        """Scheduled (arrival, departure) of every position of ``trip``."""
        arr, dep = self.line.offsets()
        t0 = float(self.departures[trip])
        return t0 + arr, t0 + dep


def vehicles_needed(cycle_s: float, headway_s: float) -> int:
    """Vehicles a headway needs for a cycle time."""
    return max(1, math.ceil(cycle_s / headway_s - 1e-9))


def build_timetable(
    line: FeederLine,
    *,
    headway_s: float,
    start_s: float,
    end_s: float,
    n_vehicles: int | None = None,
) -> LineTimetable:
    """Departures every ``headway_s`` from ``start_s`` while before ``end_s``.

    Raises
    ------
    DataError
        ``n_vehicles`` cannot run the headway on this cycle (the message gives
        the vehicles needed and the shortest headway the given vehicles allow).
    """
    if headway_s <= 0:
        raise DataError("[line] headway_min must be > 0; give minutes like 15")
    need = vehicles_needed(line.cycle_s, headway_s)
    if n_vehicles is not None and n_vehicles < need:
        shortest = math.ceil(line.cycle_s / n_vehicles / 60.0)
        raise DataError(
            f"[line] headway_min = {headway_s / 60:g} with vehicles = {n_vehicles}: a round "
            f"takes {line.cycle_s / 60:.1f} min (trip {line.trip_s / 60:.1f} + layover "
            f"{line.layover_s / 60:.1f}), so this headway needs {need} vehicles; set "
            f"vehicles >= {need} or headway_min >= {shortest}"
        )
    n = math.floor((end_s - start_s) / headway_s - 1e-9) + 1
    departures = start_s + headway_s * np.arange(max(n, 0), dtype=float)
    return LineTimetable(line, float(headway_s), departures, n_vehicles or need)


def read_stops_file(path: Path) -> list[tuple[str, str, float, float]]:
    """Stops in line order from a CSV (``stop_id,stop_name,stop_lat,stop_lon``) or GeoJSON.

    Raises
    ------
    DataError
        Missing file, columns or coordinates (naming ``[line] stops_file``).
    """
    if not path.is_file():
        raise DataError(f"[line] stops_file: {path} does not exist; give a CSV or GeoJSON path")
    out: list[tuple[str, str, float, float]] = []
    if path.suffix.lower() in (".geojson", ".json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        for i, f in enumerate(data.get("features", [])):
            geom = f.get("geometry") or {}
            if geom.get("type") != "Point":
                raise DataError(f"[line] stops_file {path}: feature {i} is not a Point")
            lon, lat = geom["coordinates"][:2]
            props = f.get("properties") or {}
            sid = str(props.get("stop_id", f"S{i + 1}"))
            out.append((sid, str(props.get("name", sid)), float(lat), float(lon)))
    else:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"stop_id", "stop_lat", "stop_lon"}
            if not need <= set(reader.fieldnames or ()):
                raise DataError(
                    f"[line] stops_file {path}: needs columns stop_id, stop_lat, stop_lon "
                    f"(and optional stop_name); has {reader.fieldnames}"
                )
            for line_no, row in enumerate(reader, start=2):
                try:
                    lat, lon = float(row["stop_lat"]), float(row["stop_lon"])
                except ValueError:
                    raise DataError(
                        f"[line] stops_file {path}, line {line_no}: stop_lat/stop_lon must be "
                        "numbers"
                    ) from None
                out.append((row["stop_id"], row.get("stop_name") or row["stop_id"], lat, lon))
    if not out:
        raise DataError(f"[line] stops_file {path} holds no stops; list them in line order")
    return out


def order_loop(travel, hub_loc: int, locs: np.ndarray, lat: np.ndarray, lon: np.ndarray):
    """Visit order of the stops on a loop from the hub, and the street side served.

    On a turn-expanded graph a location is one direction of a street; a stop
    may be served from either side within 30 m, so the tour picks the side
    too: nearest neighbour over (stop, side), then 2-opt on the asymmetric
    matrix with a re-choice of the side of every stop.

    Returns
    -------
    order : ndarray of int
        Indices into the stops.
    sides : ndarray of int64
        The location serving each stop (in the returned order).
    """
    near = getattr(travel, "nearby_locations", None)
    sides = [
        np.unique(np.concatenate(([locs[i]], near(lat[i], lon[i], 30.0) if near else [])))
        for i in range(locs.size)
    ]
    flat = np.concatenate([[hub_loc], *sides]).astype(np.int64)
    owner = np.concatenate([[-1], *[[i] * len(sd) for i, sd in enumerate(sides)]])
    sec, _ = travel.matrix(flat, flat)
    # nearest neighbour over (stop, side)
    tour_nodes = [0]
    left = set(range(locs.size))
    while left:
        here = tour_nodes[-1]
        cands = [k for k in range(1, flat.size) if owner[k] in left]
        nxt = min(cands, key=lambda k: (sec[here, k], k))
        tour_nodes.append(nxt)
        left.remove(int(owner[nxt]))

    def cost(t: list[int]) -> float:
        return float(sum(sec[t[i], t[(i + 1) % len(t)]] for i in range(len(t))))

    def best_sides(t: list[int]) -> list[int]:
        t = list(t)
        for i in range(1, len(t)):
            prev, nxt = t[i - 1], t[(i + 1) % len(t)]
            opts = [k for k in range(1, flat.size) if owner[k] == owner[t[i]]]
            t[i] = min(opts, key=lambda k: (sec[prev, k] + sec[k, nxt], k))
        return t

    tour, best = tour_nodes, cost(tour_nodes)
    improved = True
    while improved:  # 2-opt on the asymmetric matrix: recompute the whole tour
        improved = False
        n = len(tour) - 1
        for i in range(1, n):
            for k in range(i + 1, n + 1):
                cand = best_sides(tour[:i] + tour[i : k + 1][::-1] + tour[k + 1 :])
                c = cost(cand)
                if c < best - 1e-6:
                    tour, best, improved = cand, c, True
    order = np.array([owner[k] for k in tour[1:]], dtype=np.int64)
    return order, flat[np.asarray(tour[1:], dtype=np.int64)]


def build_line(
    travel,
    *,
    hub: tuple[float, float],
    stops: list[tuple[str, str, float, float]],
    zone: BaseGeometry,
    dwell_s: float,
    slack_share: float,
    layover_s: float,
    max_snap_m: float,
    zone_tolerance_m: float,
    ordered: bool,
    hub_name: str = "Hub",
    locs: np.ndarray | None = None,
) -> FeederLine:
    """A feeder line through ``stops`` (given order if ``ordered``, else a 2-opt loop).

    Parameters
    ----------
    hub : (lat, lon)
        The transit hub; trips start and end there.
    stops : list of (id, name, lat, lon)
    locs : ndarray of int, optional
        The stops' network locations when known (generated stops).
    zone : shapely geometry (lon, lat)
        The service zone; stops must lie within ``zone_tolerance_m`` of it, and
        so must the driven path of a given (``ordered``) line, the hub's approach excepted.

    Raises
    ------
    DataError
        The hub or a stop is off the network, a stop or the path leaves the zone.
    """
    try:
        hub_loc = travel.locate(*hub)
    except SnapError as exc:
        raise DataError(f"[hub] location: {exc}") from None
    plane = LocalPlane(float(hub[0]))
    ring = np.asarray(zone.exterior.coords)
    zx, zy = plane.to_xy(ring[:, 1], ring[:, 0])
    zone_m = Polygon(np.column_stack((zx, zy)))
    hx, hy = plane.to_xy(np.array([hub[0]]), np.array([hub[1]]))
    hub_m = Point(float(hx[0]), float(hy[0]))
    lat = np.array([s[2] for s in stops])
    lon = np.array([s[3] for s in stops])
    # generated stops come with their network location; file stops are located here
    located_here = locs is None
    locs = travel.locate_many(lat, lon) if locs is None else np.asarray(locs, dtype=np.int64)
    for i, (sid, name, la, lo) in enumerate(stops):
        x, y = plane.to_xy(np.array([la]), np.array([lo]))
        outside = zone_m.distance(Point(float(x[0]), float(y[0])))
        if outside > zone_tolerance_m:
            raise DataError(
                f"[line] stops_file: stop {sid!r} ({name}) at ({la:.5f}, {lo:.5f}) lies "
                f"{outside:.0f} m outside the zone [area]; move it inside or widen "
                f"[line] zone_tolerance_m (now {zone_tolerance_m:g})"
            )
        if not located_here:
            continue  # a network location already: its point is a junction of the network
        if locs[i] < 0:
            raise DataError(
                f"[line] stops_file: stop {sid!r} ({name}) at ({la:.5f}, {lo:.5f}) is not on "
                f"the shuttle network (no street within {travel.max_snap_m:.0f} m); move it "
                f"onto a street"
            )
        off = float(travel.snap_metres(np.array([la]), np.array([lo]))[0])
        if off > max_snap_m:
            raise DataError(
                f"[line] stops_file: stop {sid!r} ({name}) is {off:.0f} m from the nearest "
                f"shuttle street (max {max_snap_m:g} m, [line] max_snap_m); move it onto a street"
            )
    if ordered:
        order = np.arange(len(stops))
        locs = locs[order]
    else:
        order, locs = order_loop(travel, hub_loc, locs, lat, lon)
    stops = [stops[i] for i in order]
    all_locs = np.concatenate(([hub_loc], locs)).astype(np.int64)
    nxt = np.roll(all_locs, -1)
    run_s = np.array([travel.time(int(a), int(b)) for a, b in zip(all_locs, nxt, strict=True)])
    run_m = np.array([travel.distance(int(a), int(b)) for a, b in zip(all_locs, nxt, strict=True)])
    if not np.isfinite(run_s).all():
        raise DataError("[line]: two consecutive stops are not connected on the shuttle network")
    allowed = zone_m.buffer(zone_tolerance_m).union(hub_m.buffer(max(zone_tolerance_m, 1500.0)))
    # a given line must stay in the zone; a generated loop takes the fastest roads between
    # its stops (a short cut outside the zone is how a driver would go)
    for a, b in zip(all_locs, nxt, strict=True) if ordered else ():
        path = travel.path(int(a), int(b))
        plat = np.array([travel.coords(int(v))[0] for v in path.locations])
        plon = np.array([travel.coords(int(v))[1] for v in path.locations])
        px, py = plane.to_xy(plat, plon)
        for j in range(plat.size):
            if not allowed.contains(Point(float(px[j]), float(py[j]))):
                raise DataError(
                    f"[line] stops_file: the road between two stops leaves the zone at "
                    f"({plat[j]:.5f}, {plon[j]:.5f}); add a stop that keeps the line inside, "
                    f"or widen [line] zone_tolerance_m (now {zone_tolerance_m:g})"
                )
    return FeederLine(
        stop_ids=("hub", *(s[0] for s in stops)),
        stop_names=(hub_name, *(s[1] for s in stops)),
        lat=np.array([hub[0], *(s[2] for s in stops)]),
        lon=np.array([hub[1], *(s[3] for s in stops)]),
        loc=all_locs,
        run_s=run_s,
        run_m=run_m,
        dwell_s=float(dwell_s),
        slack_share=float(slack_share),
        layover_s=float(layover_s),
    )
